/**
 * The one redaction module of Airlock: the sidecar's log lines and client errors (plain and
 * streamed), MCP backends' stderr and errors, and the operator's status reasons all go through
 * it, with the same rules:
 * - every known secret value goes, also in the forms a server echoes it in (percent-encoded,
 *   JSON-escaped, the token of a `Bearer <token>` value, and in base64, base64url and hex, also
 *   inside a longer encoded text such as a `Basic` credential or an encoded header dump);
 * - every key-shaped token goes, known or not (`sk-…`, `AIza…`, `Bearer …`, GitHub, Slack,
 *   GitLab and AWS keys, PEM private keys), and every masked one (`sk-proj-****abcd`): even the
 *   visible ends of a key say something about it.
 * Path-based redaction (pino's `redact`) cannot know where a key might surface — an upstream
 * error echoing a header, a stack trace, a stdio server's stderr — so redaction is by value.
 * The key shapes are also what the CRDs refuse as inline values (see KEY_SHAPE_PATTERN).
 */

import { inspect } from 'node:util';

/** What a secret is replaced with. */
export const REDACTED = '[REDACTED]';

/** Shorter values are not secrets worth a global replace and would mangle ordinary text. */
const MIN_SECRET_LENGTH = 6;

/**
 * Regular expressions (as source text) of key-shaped tokens. Each compiles both in JavaScript and
 * in RE2, so the same list backs redaction here and the CEL rules that refuse inline secrets.
 */
const KEY_SHAPES: readonly string[] = [
  'sk-[A-Za-z0-9_*-]{6,}',
  'AIza[0-9A-Za-z_-]{20,}',
  '(?:Bearer|Basic|bearer|basic)\\s+[A-Za-z0-9._~+/=*-]{6,}',
  'gh[pousr]_[A-Za-z0-9]{20,}',
  'github_pat_[A-Za-z0-9_]{20,}',
  'xox[abpr]-[A-Za-z0-9-]{10,}',
  'glpat-[A-Za-z0-9_-]{20,}',
  'AKIA[0-9A-Z]{16}',
];

/**
 * One pattern for every key-shaped token: KEY_SHAPES at a word boundary (so `task-…` is no
 * `sk-…`), or a PEM private key header. Valid in JavaScript and RE2 (CEL's `matches`).
 */
export const KEY_SHAPE_PATTERN = `\\b(?:${KEY_SHAPES.join('|')})|-----BEGIN [A-Z ]*PRIVATE KEY-----`;

const KEY_SHAPED = new RegExp(KEY_SHAPE_PATTERN, 'g');

// Providers echo keys masked, e.g. OpenAI's "Incorrect API key provided: abc*****wxyz": a token
// (text between separators) with three stars or more, from its start to the end of its last star
// run and on up to a dot. Found by hand, not with /[^\s…]*\*{3,}[^\s….]*/g: that expression
// backtracked from every position of a long token without stars (quadratic; V8's linear fallback
// did not take over), and everything the sidecar logs or answers is redacted: 1,000,000 letters,
// from an agent's model name or a provider's error body, held the only thread for 81 s.
const SEPARATOR = /[\s"'`,;:()[\]{}<>]/;

/** `text` with every masked token replaced; linear in its length. */
function redactMasked(text: string): string {
  let at = text.indexOf('***');
  if (at < 0) return text;
  let out = '';
  let done = 0;
  while (at >= 0) {
    let start = at;
    while (start > done && !SEPARATOR.test(text[start - 1]!)) start--;
    let end = at;
    while (end < text.length && !SEPARATOR.test(text[end]!)) end++;
    // The token's last star run (the first is at `at`), then on to a separator or a dot.
    let stop = text.lastIndexOf('***', end - 3) + 3;
    while (stop < end && text[stop] === '*') stop++;
    while (stop < end && text[stop] !== '.') stop++;
    out += text.slice(done, start) + REDACTED;
    done = stop;
    at = text.indexOf('***', stop);
  }
  return out + text.slice(done);
}

/** Whether a value looks like a key (any of KEY_SHAPES matches somewhere in it). */
export function looksLikeKey(value: string): boolean {
  return new RegExp(KEY_SHAPE_PATTERN).test(value);
}

/** Encoded forms shorter than this are left alone: a few base64 letters are ordinary text. */
const MIN_ENCODED_LENGTH = 12;

/**
 * The base64 and base64url text a value becomes wherever it sits in a longer encoded text: for
 * each of the three byte offsets it may start at, the characters that depend on its bytes alone.
 */
function base64Forms(value: string): string[] {
  const bytes = Buffer.from(value);
  const forms: string[] = [];
  for (const offset of [0, 1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    // Character i holds bits 6i..6i+5: keep those within the value's bits.
    const first = Math.ceil((8 * offset) / 6);
    const end = Math.floor((8 * (offset + bytes.length)) / 6);
    const core = encoded.slice(first, end);
    forms.push(core, core.replaceAll('+', '-').replaceAll('/', '_'));
  }
  return forms;
}

/**
 * The forms of one value a server is likely to echo: as is, percent-encoded, JSON-escaped, base64
 * (either alphabet) and hex; and as Node's own errors quote a value they refuse (util.inspect:
 * `'tok-…\x00…'`), also JSON-escaped as that quote stands in a log line.
 */
function echoedForms(value: string): string[] {
  const hex = Buffer.from(value).toString('hex');
  const encoded = [...base64Forms(value), hex, hex.toUpperCase()].filter((form) => form.length >= MIN_ENCODED_LENGTH);
  const inspected = inspect(value).slice(1, -1);
  const quoted = inspected === value ? [] : [inspected, JSON.stringify(inspected).slice(1, -1)];
  return [value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1), ...quoted, ...encoded];
}

/** The forms of a secret a server is likely to echo: those of the secret, and of a credential's token alone. */
function variants(secret: string): string[] {
  const forms = echoedForms(secret);
  const credential = /^[A-Za-z][A-Za-z0-9_-]*\s+(\S+)$/.exec(secret.trim())?.[1];
  if (credential !== undefined) forms.push(...echoedForms(credential));
  return forms.filter((form) => form.length >= MIN_SECRET_LENGTH);
}

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A function that removes the given secrets (in every form they are echoed in) and any
 * key-shaped or masked token from a text.
 */
export function redactor(secrets: Iterable<string | undefined>): (text: string) => string {
  const known = valueRedactor(secrets);
  return (text) => redactMasked(known(text).replace(KEY_SHAPED, REDACTED));
}

/**
 * Removes the given secrets, in every form they are echoed in, and nothing else: for what a
 * server says to the agent (an MCP backend's answers), where key-shaped text may be content.
 */
export function valueRedactor(secrets: Iterable<string | undefined>): (text: string) => string {
  const forms = new Set<string>();
  for (const secret of secrets) if (secret !== undefined) for (const form of variants(secret)) forms.add(form);
  // Longest first, so a secret that contains another is replaced whole.
  const sorted = [...forms].sort((a, b) => b.length - a.length);
  if (sorted.length === 0) return (text) => text;
  const pattern = new RegExp(sorted.map(escapeRegExp).join('|'), 'g');
  return (text) => text.replace(pattern, REDACTED);
}

/** The set of secret values currently loaded in a process; updated whenever key files are (re)read. */
export class SecretRegistry {
  private readonly owners = new Map<string, string[]>();
  private redact = redactor([]);

  /** Registers values under an owner (e.g. a provider name), replacing that owner's previous ones. */
  set(owner: string, secrets: Iterable<string>): void {
    this.owners.set(owner, [...secrets]);
    const all = [...this.owners.values()].flat();
    this.redact = redactor(all);
  }

  /** The text with every registered secret and every key-shaped token replaced. */
  scrub(text: string): string {
    return this.redact(text);
  }
}
