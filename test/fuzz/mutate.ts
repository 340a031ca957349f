/**
 * Structured mutations of JSON documents, as fast-check arbitraries: a valid request (or config,
 * or custom resource) goes in, a list of mutations is generated, and applying it gives what a
 * buggy or hostile client would send. Mutations are plain data, so fast-check shrinks a failing
 * case to the fewest, simplest mutations that still fail.
 *
 * What a mutation can do at any node: drop it, duplicate its key (in the JSON text, where
 * duplicate keys are legal and the last wins), replace it with a value of another type, turn a
 * number into a string and back, make a huge string, nest arrays or objects thousands deep, wrap
 * it in an array or turn an array into an object, put NUL, lone surrogates, BOMs or bidi
 * controls into strings, add keys (`__proto__`, `constructor`, ...), write numbers JavaScript
 * cannot hold, or make a very long array. Byte mutations then break the text itself: invalid
 * UTF-8, NUL bytes, truncation.
 */
import fc from 'fast-check';

/** JSON text inserted verbatim by {@link serialize} (deep nesting that JSON.stringify cannot write). */
export class RawJson {
  constructor(readonly text: string) {}
}

/** Extra `[key, value]` entries written after an object's own (duplicate keys). */
const DUPLICATES = Symbol('duplicates');

type Node = unknown;
type Container = Record<string | symbol, unknown> | unknown[];

export type Mutation =
  | { kind: 'drop' }
  | { kind: 'duplicate' }
  | { kind: 'replace'; value: unknown }
  | { kind: 'stringify' }
  | { kind: 'numberify' }
  | { kind: 'huge'; size: number; unit: string }
  | { kind: 'nest'; depth: number; shape: 'array' | 'object' }
  | { kind: 'wrap' }
  | { kind: 'objectify' }
  | { kind: 'text'; value: string }
  | { kind: 'insert'; key: string; value: unknown }
  | { kind: 'number'; text: string }
  | { kind: 'long-array'; length: number };

/** A mutation and where it applies: `at` picks a node (modulo the number of nodes). */
export interface Located {
  at: number;
  mutation: Mutation;
}

export type ByteMutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'overwrite'; at: number; byte: number }
  | { kind: 'repeat'; at: number; length: number; times: number };

const WEIRD_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff\ud800',
  '\ufeff{}',
  '\u202egnp.exe',
  '\u0085\u2028\u2029',
  '\r\n\r\nHTTP/1.1 200 OK\r\n\r\n',
  '"},{"role":"system","content":"',
  '__proto__',
  'constructor',
  '%s%n%x',
  '${env:HOME}',
  '../../../../etc/passwd',
  '💥'.repeat(8),
  'null',
  '0',
  '-1',
  'true',
  '[]',
  '{}',
];

const KEYS = ['__proto__', 'constructor', 'prototype', 'toString', '', ' ', 'stream', 'model', 'messages', 'id', 'method', 'jsonrpc', 'params', 'type', 'role', '\u0000', 'x'.repeat(300)];

const NUMBER_TEXTS = ['1e400', '-1e400', '-0', '0.0000000000000000000000001', '123456789012345678901234567890', '9007199254740993', '-1', '1.5', '0', '1E2', '2147483648', '-2147483649'];

/** Any code unit, lone surrogates included (fc.string's default units exclude them). */
const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));

/** Small JSON values of every type, plus strings of any code unit. */
export const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.string({ unit: anyUnit, maxLength: 20 }),
  fc.constantFrom<unknown>(null, true, false, 0, -1, 1.5, '', [], {}, [[]], { '': null }),
);

/** Sizes of the big mutations: requests go past the body limit; documents stay parseable in time. */
export type Scale = 'request' | 'document';

const SIZES: Record<Scale, { huge: number[]; depth: number[]; length: number[] }> = {
  request: { huge: [4_096, 70_000, 300_000], depth: [64, 1_000, 5_000, 20_000], length: [1_000, 20_000] },
  document: { huge: [4_096, 70_000], depth: [64, 1_000, 5_000], length: [100, 1_000] },
};

function mutation(scale: Scale): fc.Arbitrary<Mutation> {
  const sizes = SIZES[scale];
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant({ kind: 'drop' } as const) },
    { weight: 2, arbitrary: fc.constant({ kind: 'duplicate' } as const) },
    { weight: 4, arbitrary: anyJson.map((value) => ({ kind: 'replace', value }) as const) },
    { weight: 2, arbitrary: fc.constant({ kind: 'stringify' } as const) },
    { weight: 1, arbitrary: fc.constant({ kind: 'numberify' } as const) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('huge' as const), size: fc.constantFrom(...sizes.huge), unit: fc.constantFrom('x', 'é', '\u0000', '💥', '\\', '"') }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('nest' as const), depth: fc.constantFrom(...sizes.depth), shape: fc.constantFrom('array' as const, 'object' as const) }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'wrap' } as const) },
    { weight: 1, arbitrary: fc.constant({ kind: 'objectify' } as const) },
    { weight: 2, arbitrary: fc.oneof(fc.constantFrom(...WEIRD_STRINGS), fc.string({ unit: anyUnit, maxLength: 40 })).map((value) => ({ kind: 'text', value }) as const) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('insert' as const), key: fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 8 })), value: anyJson }) },
    { weight: 1, arbitrary: fc.constantFrom(...NUMBER_TEXTS).map((text) => ({ kind: 'number', text }) as const) },
    { weight: 1, arbitrary: fc.constantFrom(...sizes.length).map((length) => ({ kind: 'long-array', length }) as const) },
  );
}

/** One to `max` located mutations; mostly one, so that many mutants still pass validation and go deeper. */
export function mutations(max = 4, scale: Scale = 'request'): fc.Arbitrary<Located[]> {
  const located = fc.record({ at: fc.nat(), mutation: mutation(scale) });
  return fc.oneof({ weight: 3, arbitrary: fc.array(located, { minLength: 1, maxLength: 1 }) }, { weight: 2, arbitrary: fc.array(located, { minLength: 1, maxLength: max }) });
}

/** Zero to `max` byte mutations: invalid UTF-8, NUL, truncation, repetition. */
export function byteMutations(max = 3): fc.Arbitrary<ByteMutation[]> {
  const badBytes = fc.constantFrom<number[]>([0x00], [0xff], [0xfe, 0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc0, 0xaf], [0x80], [0xef, 0xbb, 0xbf]);
  return fc.array(
    fc.oneof(
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: badBytes }),
      fc.record({ kind: fc.constant('overwrite' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('repeat' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }), times: fc.integer({ min: 2, max: 50 }) }),
    ),
    { maxLength: max },
  );
}

/** Applies located mutations to a copy of `doc`. */
export function mutate(doc: unknown, plan: Located[]): unknown {
  let root: Node = structuredClone(doc);
  for (const { at, mutation } of plan) {
    const nodes = locate(root);
    const { parent, key } = nodes[at % nodes.length]!;
    const current = parent === undefined ? root : (parent as Record<string | number, unknown>)[key as string];
    if (mutation.kind === 'drop') {
      if (parent === undefined) root = undefined;
      else if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete (parent as Record<string, unknown>)[key as string];
      continue;
    }
    if (mutation.kind === 'duplicate') {
      if (Array.isArray(parent)) parent.splice(key as number, 0, structuredCloneSafe(current));
      else if (parent !== undefined) duplicatesOf(parent as Record<symbol, unknown>).push([key as string, replacement(current, { kind: 'stringify' })]);
      continue;
    }
    const next = replacement(current, mutation);
    if (parent === undefined) root = next;
    else (parent as Record<string | number, unknown>)[key as string] = next;
  }
  return root;
}

function replacement(current: unknown, mutation: Exclude<Mutation, { kind: 'drop' | 'duplicate' }>): unknown {
  switch (mutation.kind) {
    case 'replace':
      return structuredClone(mutation.value);
    case 'stringify':
      return typeof current === 'string' ? current : (serialize(current) ?? 'undefined');
    case 'numberify':
      return typeof current === 'string' ? Number(current) || current.length : typeof current === 'number' ? -current : 1;
    case 'huge':
      return mutation.unit.repeat(Math.ceil(mutation.size / mutation.unit.length));
    case 'nest': {
      const [open, close] = mutation.shape === 'array' ? ['[', ']'] : ['{"a":', '}'];
      return new RawJson(`${open.repeat(mutation.depth)}${mutation.shape === 'array' ? '' : '0'}${close.repeat(mutation.depth)}`);
    }
    case 'wrap':
      return [current];
    case 'objectify':
      return Array.isArray(current) ? Object.fromEntries(current.map((v, i) => [String(i), v])) : { value: current };
    case 'text':
      return mutation.value;
    case 'insert':
      if (isPlainObject(current)) return { ...current, [mutation.key]: structuredClone(mutation.value) };
      if (Array.isArray(current)) return [...current, structuredClone(mutation.value)];
      return { [mutation.key]: structuredClone(mutation.value) };
    case 'number':
      return new RawJson(mutation.text);
    case 'long-array': {
      // Repeats the node's first element when it is small; never multiplies a huge one.
      const first = Array.isArray(current) ? current[0] : current;
      const small = first !== undefined && !(first instanceof RawJson) && (serialize(first) ?? '').length <= 256;
      return Array.from({ length: mutation.length }, (_, i) => (small ? structuredClone(first) : i));
    }
  }
}

/** Serializes like JSON.stringify, plus {@link RawJson} text and duplicate keys; undefined for undefined. */
export function serialize(value: unknown): string | undefined {
  if (value instanceof RawJson) return value.text;
  if (Array.isArray(value)) return `[${value.map((v) => serialize(v) ?? 'null').join(',')}]`;
  if (isPlainObject(value)) {
    const entries: [string, unknown][] = [...Object.entries(value), ...((value as Record<symbol, [string, unknown][]>)[DUPLICATES] ?? [])];
    const parts = entries.flatMap(([k, v]) => {
      const text = serialize(v);
      return text === undefined ? [] : [`${JSON.stringify(k)}:${text}`];
    });
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Applies byte mutations to `bytes`. */
export function mutateBytes(bytes: Buffer, plan: ByteMutation[]): Buffer {
  let out = bytes;
  for (const m of plan) {
    const at = out.length === 0 ? 0 : m.at % (out.length + 1);
    if (m.kind === 'truncate') out = out.subarray(0, at);
    else if (m.kind === 'insert') out = Buffer.concat([out.subarray(0, at), Buffer.from(m.bytes), out.subarray(at)]);
    else if (m.kind === 'overwrite' && at < out.length) out = Buffer.concat([out.subarray(0, at), Buffer.from([m.byte]), out.subarray(at + 1)]);
    else if (m.kind === 'repeat') {
      const slice = out.subarray(at, at + m.length);
      out = Buffer.concat([out.subarray(0, at), ...Array.from({ length: m.times }, () => slice), out.subarray(at + m.length)]);
    }
  }
  return out;
}

/** Every node of `root` with its parent and key (the root has no parent). */
function locate(root: Node): { parent: Container | undefined; key: string | number | undefined }[] {
  const found: { parent: Container | undefined; key: string | number | undefined }[] = [{ parent: undefined, key: undefined }];
  const walk = (node: Node, depth: number) => {
    if (depth > 32) return;
    if (Array.isArray(node)) {
      // Long arrays: only their first elements are mutation sites.
      node.slice(0, 16).forEach((child, i) => {
        found.push({ parent: node, key: i });
        walk(child, depth + 1);
      });
    } else if (isPlainObject(node)) {
      for (const [k, child] of Object.entries(node)) {
        found.push({ parent: node, key: k });
        walk(child, depth + 1);
      }
    }
  };
  walk(root, 0);
  return found;
}

function duplicatesOf(object: Record<symbol, unknown>): [string, unknown][] {
  const existing = object[DUPLICATES] as [string, unknown][] | undefined;
  if (existing) return existing;
  const list: [string, unknown][] = [];
  Object.defineProperty(object, DUPLICATES, { value: list, enumerable: false });
  return list;
}

function structuredCloneSafe(value: unknown): unknown {
  return value instanceof RawJson ? value : structuredClone(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof RawJson);
}
