/**
 * One pass over a request body's bytes before it is parsed: how deep it nests, and whether a key
 * repeats where the sidecar reads the body to decide (the top level and the objects directly in
 * it: `model`, `stream`, `stream_options.include_usage`, `generationConfig`, ...).
 *
 * Why duplicates matter: a body the agent sends in the provider's own API goes upstream as its
 * bytes, while the sidecar decides on what JSON.parse made of them, where the last duplicate wins.
 * Parsers that keep the first (Go's gjson `Get`, C's cJSON `GetObjectItem`, simdjson's lookups)
 * would run another model, or answer in another mode, than the one the sidecar allowed,
 * priced and reads. Refusing such a body closes that for every ingress at once; deeper objects
 * (messages, tool schemas) are the provider's to read, and scanning them for keys would cost
 * every call a set per object.
 */

/** What {@link scanJson} found. */
export interface JsonScan {
  /** Nesting depth (brackets outside strings). */
  depth: number;
  /** The first repeated key at the top two levels, as a path (`model`, `stream_options.include_usage`); the scan stops there. */
  duplicate: string | undefined;
  /**
   * About what the parsed body takes beyond its strings' text, in bytes: its objects and arrays
   * and its members and elements, at what V8 spends on each (rounded up). Bytes do not tell it:
   * `{},` is 3 bytes of text and ~56 bytes parsed, so a 16 MiB body of empty objects took the
   * sidecar from 101 to 698 MiB (red team 19).
   */
  parsedBytes: number;
}

/**
 * V8's cost of an object or array (header, properties or elements store), of a member or element,
 * and of a string beyond its characters (its header; a key's entry in the object's dictionary),
 * rounded up. Members alone at 16 missed what distinct keys cost: a 29 MiB tool schema of 2.95
 * million keys was counted at 45 MiB and took 630 MiB (red team 20). The strings' characters are
 * the body's own bytes, which maxBodyBytes and the body budget bound.
 */
const CONTAINER_BYTES = 64;
const VALUE_BYTES = 16;
const STRING_BYTES = 48;

/** Levels whose keys are checked for repeats: the top level and the objects directly in it. */
const CHECKED_LEVELS = 2;

/**
 * Scans JSON text without parsing it: no allocation beyond the keys of the two checked levels.
 * Strings (most of a real body) are skipped with a native search for their closing quote, so the
 * scan costs per token, not per byte. Keys are compared decoded (`"mod\u0065l"` is `model`).
 * Text that is not JSON gives an answer of no meaning; JSON.parse refuses it afterwards. Stops
 * once `parsedBytes` passes `maxParsedBytes` (the rest is not looked at: the body is refused).
 */
export function scanJson(text: Buffer, maxParsedBytes = Infinity): JsonScan {
  let depth = 0;
  let max = 0;
  // The open object at levels 1 and 2 (false: an array there), their keys so far, and the key
  // at level 1 whose value is the level-2 object (for the path in the message).
  let object1 = false;
  let object2 = false;
  let keys1: Set<string> | undefined;
  let keys2: Set<string> | undefined;
  let lastKey1 = '';
  let parent2 = '';
  // What the parsed body would take so far (JsonScan.parsedBytes).
  let parsed = 0;
  const found = (duplicate: string | undefined): JsonScan => ({ depth: max, duplicate, parsedBytes: parsed });
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === 0x2c /* , */) parsed += VALUE_BYTES;
    else if (c === 0x22 /* " */) {
      let end = text.indexOf(0x22, i + 1);
      while (end > 0 && escaped(text, end)) end = text.indexOf(0x22, end + 1);
      // An unterminated string: nothing after it is structure (JSON.parse refuses the body).
      if (end < 0) break;
      // Past the bound the body is refused whatever follows: a million keys at level 2 would
      // otherwise fill the duplicate check's set (the scan itself took 110 MiB).
      if ((parsed += STRING_BYTES) > maxParsedBytes) return found(undefined);
      if (((depth === 1 && object1) || (depth === 2 && object2)) && followedByColon(text, end + 1)) {
        const key = decodeKey(text, i, end);
        if (key !== undefined) {
          if (depth === 1) {
            if ((keys1 ??= new Set()).has(key)) return found(key);
            keys1.add(key);
            lastKey1 = key;
          } else {
            if ((keys2 ??= new Set()).has(key)) return found(`${parent2}.${key}`);
            keys2.add(key);
          }
        }
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      parsed += CONTAINER_BYTES + VALUE_BYTES;
      if (++depth > max) max = depth;
      if (depth === 1) object1 = c === 0x7b;
      else if (depth === CHECKED_LEVELS) {
        object2 = object1 && c === 0x7b;
        keys2 = undefined;
        parent2 = lastKey1;
      }
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
  return found(undefined);
}

/** Whether the first byte at or after `from` that is not JSON whitespace is a colon: the string before it was a key. */
function followedByColon(text: Buffer, from: number): boolean {
  let i = from;
  while (i < text.length && isSpace(text[i]!)) i++;
  return text[i] === 0x3a;
}

/** The key between the quotes at `open` and `close`, its escapes undone; undefined when they are not valid JSON. */
function decodeKey(text: Buffer, open: number, close: number): string | undefined {
  // Searched within the key only: searched to the body's end, each of 300,000 keys without an
  // escape read the whole rest of the body, and one 3 MiB body held the sidecar's thread for 13 s
  // (red team 20).
  if (text.subarray(open + 1, close).indexOf(0x5c) < 0) return text.toString('utf8', open + 1, close);
  try {
    return JSON.parse(text.toString('utf8', open, close + 1)) as string;
  } catch {
    return undefined;
  }
}

/** Whether the quote at `at` is escaped: preceded by an odd run of backslashes. */
function escaped(text: Buffer, at: number): boolean {
  let n = 0;
  while (text[at - 1 - n] === 0x5c /* \ */) n++;
  return n % 2 === 1;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** What {@link valueSize} found. */
export interface ValueSize {
  /** Bytes of the value's JSON text, as JSON.stringify and UTF-8 would make it (for values JSON.parse made). */
  jsonBytes: number;
  /** What it takes parsed beyond its strings' text, in {@link JsonScan.parsedBytes}'s units. */
  parsedBytes: number;
}

/** Characters JSON.stringify writes other than as themselves, or that take more than a byte in UTF-8. */
// eslint-disable-next-line no-control-regex -- the control characters are what JSON escapes
const NOT_ONE_BYTE = /["\\\u0000-\u001f\u007f-\uffff]/;

/**
 * The size of a value already parsed, without writing its JSON: what an answer the sidecar is
 * about to send will take as text, and what a value it keeps takes in memory. Walks the value
 * with a stack of its own, so depth costs no call stack. Values JSON.stringify leaves out
 * (undefined, functions) count as nothing; `toJSON` is not called.
 */
export function valueSize(value: unknown): ValueSize {
  let jsonBytes = 0;
  let parsed = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      parsed += STRING_BYTES;
      jsonBytes += NOT_ONE_BYTE.test(v) ? Buffer.byteLength(JSON.stringify(v)) : v.length + 2;
    } else if (typeof v === 'number') jsonBytes += Number.isFinite(v) ? String(v).length : 4;
    else if (typeof v === 'boolean') jsonBytes += v ? 4 : 5;
    else if (v === null) jsonBytes += 4;
    else if (typeof v === 'object') {
      parsed += CONTAINER_BYTES + VALUE_BYTES;
      jsonBytes += 2;
      if (Array.isArray(v)) {
        for (const element of v) stack.push(element === undefined || typeof element === 'function' ? null : element);
        const separators = Math.max(0, v.length - 1);
        jsonBytes += separators;
        parsed += separators * VALUE_BYTES;
      } else {
        let members = 0;
        for (const key in v) {
          if (!Object.hasOwn(v, key)) continue;
          const member = (v as Record<string, unknown>)[key];
          if (member === undefined || typeof member === 'function') continue;
          members++;
          stack.push(key, member);
          jsonBytes += 1; // the colon
        }
        const separators = Math.max(0, members - 1);
        jsonBytes += separators;
        parsed += separators * VALUE_BYTES;
      }
    }
  }
  return { jsonBytes, parsedBytes: parsed };
}
