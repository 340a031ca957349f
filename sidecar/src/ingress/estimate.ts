/**
 * The sidecar's one local estimate of tokens, for what it must count or answer without a
 * provider's count: a call cut or given up before its usage (relay/usage.ts), the text a stream
 * streamed, `message_start.usage.input_tokens` on a translated stream, and token-count endpoints
 * whose provider has no counting API (OpenAI, Ollama).
 *
 * Two rates, one walk:
 * - {@link textTokens}, what a count uses: by character class, not length, so that text the agent
 *   picks cannot be counted at a fraction of its bill (four characters a token, the rule of thumb
 *   for English, was a quarter of what digits with spaces, symbols or emoji cost). A run of ASCII
 *   letters is a token per three letters (rounded up; two past twelve; two for capitals), or more
 *   when its letter pairs are not English's common ones (random "words" cost a token per two
 *   letters, and counted per three they were half their bill: red team 26); a run of digits one
 *   per three, each ASCII punctuation mark or symbol one, a lone newline, tab or carriage return
 *   one, a run of more than one whitespace one per four and one for each character of it no
 *   tokenizer merges (` \r` repeated was a quarter of its bill); each other character as many as
 *   the UTF-8 bytes past its first in the scripts tokenizers merge well (one for Greek, Cyrillic or
 *   Latin-1, two for CJK or Hangul, three for emoji and the other supplementary planes), a token a
 *   byte in the others (Latin extensions, IPA, combining marks, Syriac, Yi, private use). Calibrated
 *   against o200k_base (estimate.test.ts): at or above 0.9 times it for each class of its corpus,
 *   at most about twice for English prose and code; docs/security.md says what text is still lower.
 * - Length over four: {@link quickTokens} and `estimateTokens(value, false)`, for what is held at
 *   admission on every call (relay/call.ts reservationOf), which must cost nothing per character.
 *   A hold is not a count: the call is counted afterwards, from the provider's usage or by the
 *   dense rate.
 *
 * A media payload (a base64 data URL, or a `data` string beside its media type) counts a fixed
 * {@link MEDIA_TOKENS}: an image costs the provider a budget of its own, not its byte length. Keys
 * are not counted; values are, whatever their key.
 */

const CHARS_PER_TOKEN = 4;

/**
 * What one media payload (an image, audio, a document given as base64) is counted as, whatever its
 * bytes: the provider bills it by its own budget (an image up to about 1,600 tokens at Anthropic,
 * 1,105 at OpenAI's high detail, 258 at Gemini), not by its base64's length.
 */
export const MEDIA_TOKENS = 1_600;

/** Keys whose short string values are structure (`"type": "text"`, `"role": "user"`), not prompt. */
const STRUCTURE_KEYS = new Set(['type', 'role']);
const STRUCTURE_CHARS = 64;
/** Keys beside a `data` string that make it a media payload (Anthropic's `source`, Gemini's `inlineData`, OpenAI's `input_audio`). */
const MEDIA_SIBLINGS = ['media_type', 'mimeType', 'mime_type', 'format'];

/**
 * Estimated tokens of every string in a JSON value (at least 1 for a non-empty value): by
 * {@link textTokens} when `dense`, else at four characters a token (an admission hold). A media
 * payload (a `data:…;base64,` URL, or a `data` string beside its media type) counts
 * {@link MEDIA_TOKENS}; a `type` or `role` of a few characters counts nothing. Nothing else is
 * skipped, whatever its key: a subtree under `data`, `type` or `signature` was, and the agent could
 * put its prompt there (a tool schema's property named `data`, text beginning `data:`; red team 26).
 */
export function estimateTokens(value: unknown, dense = true): number {
  let tokens = 0;
  let chars = 0;
  const count = (text: string) => {
    if (dense) tokens += textTokens(text);
    else chars += text.length;
  };
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node === 'string') {
      if (isDataURL(node)) tokens += MEDIA_TOKENS;
      else count(node);
    } else if (Array.isArray(node)) {
      // One by one: spread, an array of ~130,000 items overflowed the call stack (red team 26).
      for (const item of node as unknown[]) stack.push(item);
    } else if (typeof node === 'object' && node !== null) {
      const object = node as Record<string, unknown>;
      for (const key in object) {
        const child = object[key];
        if (typeof child === 'string') {
          if (STRUCTURE_KEYS.has(key) && child.length <= STRUCTURE_CHARS) continue;
          if (key === 'data' && (object.type === 'base64' || MEDIA_SIBLINGS.some((sibling) => typeof object[sibling] === 'string'))) {
            tokens += MEDIA_TOKENS;
            continue;
          }
        }
        stack.push(child);
      }
    }
  }
  return dense ? tokens : tokens + (chars === 0 ? 0 : Math.max(1, Math.ceil(chars / CHARS_PER_TOKEN)));
}

/** A base64 data URL (an image or file given inline): `data:<type>;base64,` near its start. */
function isDataURL(text: string): boolean {
  if (!text.startsWith('data:')) return false;
  const comma = text.indexOf(',');
  return comma > 0 && comma < 256 && text.lastIndexOf(';base64', comma) > 0;
}

/** Tokens held for `length` characters or bytes at admission: four a token, rounded up. */
export function quickTokens(length: number): number {
  return Math.ceil(length / CHARS_PER_TOKEN);
}

const LETTERS_PER_TOKEN = 3;
/**
 * The 200 most frequent letter pairs inside words of this repository's English documentation (and
 * each letter doubled): a run of letters whose pairs are mostly among them is cut by tokenizers
 * into few tokens, one whose pairs are not (random letters, an agent's padding) into a token per
 * two letters or so. Each uncommon pair costs {@link RARE_PAIR_TOKENS}.
 */
const COMMON_PAIRS =
  'th he er re es on an in en de st te nd it se at or nt ed ar ts ec ro ea co ' +
  'to id le ti me ne ca ve ge al od et ou is as ac ch ha no ai si ns ad ke pe ' +
  'li io un el lo am ng ra po ck ol op ll ot ta na sa ce ag ho so ma pr rs ut ' +
  'oo fi us ss ir pa il tr wh mo be mi oc ls ic wi ri fo ct em rt bo la om ds ' +
  'of ev sp ie ef ov ur hi cr di cl ow ry we rl ba os vi im ld nc pi ap tt ig ' +
  'wa ue ru ep ex mp rv pl by ni ay ul ox db ey fr fa tp cp ok gr sh ht ee qu ' +
  'nn pt ly ab hr rc up dr mc bu ew nf ib do wn lu sw eq wo fu nl eg ps lt pu ' +
  'rr da su gh ui dm tc ys ga iv tu au sc gi ia ny ud bl ty dy ft xt ub je wr';
const RARE_PAIR_TOKENS = 0.7;
const commonPair = new Uint8Array(26 * 26);
for (const pair of COMMON_PAIRS.split(' ')) commonPair[(pair.charCodeAt(0) - 0x61) * 26 + pair.charCodeAt(1) - 0x61] = 1;
for (let letter = 0; letter < 26; letter++) commonPair[letter * 26 + letter] = 1;
const DIGITS_PER_TOKEN = 3;
const WHITESPACE_PER_TOKEN = 4;

/** Character classes of ASCII, for {@link textTokens}. */
const OTHER = 0;
const LETTER = 1;
const DIGIT = 2;
const SPACE = 3;
/** A capital after a small letter: a new run of letters. */
const CAPITAL = 4;
/** Letters of the longest run counted as a word; past it, two letters a token. */
const LONG_WORD = 12;

/**
 * Tokens of a text by character class (see the module's comment): one pass, no allocation. Errs
 * high for ordinary text, never far low for any, so an agent gains nothing by its choice of text.
 */
export function textTokens(text: string): number {
  let tokens = 0;
  let run = 0;
  let runClass = OTHER;
  /** Of a run of letters, its pairs that are not common ones; of whitespace, the changes no tokenizer merges. */
  let rare = 0;
  /** Capitals in the run of letters. */
  let capitals = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let cls = c < 0x80 ? asciiClass(c) : OTHER;
    // camelCase and mixed-case strings (base64, identifiers) break where a capital follows a small letter.
    if (cls === LETTER && runClass === LETTER && c <= 0x5a && text.charCodeAt(i - 1) >= 0x61) cls = CAPITAL;
    if (cls !== runClass && run > 0) {
      tokens += runTokens(runClass, run, c, text.charCodeAt(i - 1), rare, capitals);
      run = 0;
      rare = 0;
      capitals = 0;
    }
    if (cls === CAPITAL) cls = LETTER;
    if (cls === OTHER) {
      runClass = OTHER;
      tokens += otherTokens(c, text.charCodeAt(i - 1));
      continue;
    }
    if (cls === LETTER) {
      if (c <= 0x5a) capitals++;
      if (run > 0 && commonPair[((text.charCodeAt(i - 1) | 0x20) - 0x61) * 26 + (c | 0x20) - 0x61] === 0) rare++;
    } else if (cls === SPACE && run > 0 && unmergedSpace(text.charCodeAt(i - 1), c, text.charCodeAt(i + 1))) rare++;
    runClass = cls;
    run++;
  }
  if (run > 0) tokens += runTokens(runClass, run, 0, text.charCodeAt(text.length - 1), rare, capitals);
  // A space ending a text after a digit is a token of its own if a number follows, as in the next
  // delta of a stream (counted per delta).
  if (runClass === SPACE && run === 1 && isDigit(text.charCodeAt(text.length - 2))) tokens += 1;
  return tokens;
}

function asciiClass(c: number): number {
  if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a)) return LETTER;
  if (c >= 0x30 && c <= 0x39) return DIGIT;
  if (c === 0x20 || (c >= 0x09 && c <= 0x0d)) return SPACE;
  return OTHER;
}

/**
 * A whitespace character `c` (after `previous`, before `next`) that a tokenizer does not merge with
 * the one before it: a carriage return not followed by a newline, whatever follows one, a space
 * beside a tab, and a form feed or vertical tab or what follows one (` \r` repeated was counted at
 * a quarter of o200k).
 */
function unmergedSpace(previous: number, c: number, next: number): boolean {
  return (
    (c === 0x0d && next !== 0x0a) ||
    (previous === 0x0d && c !== 0x0a) ||
    (c === 0x20 && previous === 0x09) ||
    (c === 0x09 && previous === 0x20) ||
    c === 0x0b ||
    c === 0x0c ||
    previous === 0x0b ||
    previous === 0x0c
  );
}

/**
 * Scripts and symbols a tokenizer has many merges for (Latin-1, Greek and
 * Cyrillic, Hebrew and Arabic, Indic, Thai and Lao, Georgian, general punctuation, CJK and kana,
 * CJK ideographs, Hangul syllables): counted by their UTF-8 length; the rest of their planes (other
 * Latin extensions, IPA, combining marks, Syriac, Thaana, Yi, private use…) a token a byte.
 */
function denseScript(c: number): boolean {
  return (
    (c >= 0xa0 && c < 0x100) ||
    (c >= 0x370 && c < 0x460) ||
    (c >= 0x5d0 && c < 0x700) ||
    (c >= 0x900 && c < 0xe80) ||
    (c >= 0x10a0 && c < 0x1100) ||
    (c >= 0x2000 && c < 0x2070) ||
    (c >= 0x3000 && c < 0x3100) ||
    (c >= 0x4e00 && c < 0xa000) ||
    (c >= 0xac00 && c < 0xd7a4)
  );
}

/** Symbols of three UTF-8 bytes a tokenizer often takes at two tokens: Ethiopic, arrows and math, box drawing, dingbats, variation selectors, fullwidth forms. */
function commonSymbol(c: number): boolean {
  return (c >= 0x1200 && c < 0x13a0) || (c >= 0x2190 && c < 0x2300) || (c >= 0x2500 && c < 0x27c0) || (c >= 0xfe00 && c < 0xfe10) || (c >= 0xff00 && c < 0xfff0);
}

/** Tokens of a non-ASCII character `c` (after `previous`), by its UTF-8 length and script. */
function otherTokens(c: number, previous: number): number {
  if (c < 0x80) return 1;
  if (c < 0x800) return denseScript(c) ? 1 : 2;
  // A surrogate pair is one character of four UTF-8 bytes, often a token each: counted at its first half.
  if (c >= 0xd800 && c <= 0xdbff) return 4;
  // A low surrogate alone (no first half before it) is a character of its own.
  if (c >= 0xdc00 && c <= 0xdfff) return previous >= 0xd800 && previous <= 0xdbff ? 0 : 1;
  return denseScript(c) || commonSymbol(c) ? 2 : 3;
}

/**
 * Tokens of a run of one class whose last character is `last`, ended by `next` (a character code,
 * 0 at the end of the text); of letters, `rare` of its pairs are not common ones and `capitals` of
 * its letters are capitals; of whitespace, `rare` of its characters are not merged.
 */
function runTokens(cls: number, run: number, next: number, last: number, rare: number, capitals: number): number {
  if (cls === LETTER) {
    // Words are short: letters past a word's length are gibberish, which tokenizers cut in pairs;
    // so are words in capitals.
    const byLength =
      capitals === run && run > 1 ? Math.ceil(run / 2) : run <= LONG_WORD ? Math.ceil(run / LETTERS_PER_TOKEN) : LONG_WORD / LETTERS_PER_TOKEN + Math.ceil((run - LONG_WORD) / 2);
    return rare === 0 ? byLength : Math.max(byLength, 1 + Math.ceil(rare * RARE_PAIR_TOKENS));
  }
  if (cls === DIGIT) return Math.ceil(run / DIGITS_PER_TOKEN);
  // A single space goes with the word after it, not with a number, a rare character or a Latin
  // letter outside ASCII; a newline, a tab or a carriage return alone is a token of its own; a
  // longer run (indentation, blank lines) is a token per four characters, as mixed spaces and
  // newlines are cut, and one for each character not merged.
  if (run > 1) return Math.ceil(run / WHITESPACE_PER_TOKEN) + rare;
  return last !== 0x20 || isDigit(next) || (next >= 0x80 && (next < 0x250 || !denseScript(next))) ? 1 : 0;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
