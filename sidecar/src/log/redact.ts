/**
 * Value-based redaction. Path-based redaction (pino's `redact`) cannot know where a key might
 * surface — an upstream error echoing a header, a stack trace, a stdio server's stderr — so every
 * line is scrubbed of the current secret values before it is written.
 */

const REPLACEMENT = '[REDACTED]';
/** Shorter values are not secrets worth a global replace and would mangle ordinary text. */
const MIN_SECRET_LENGTH = 6;

/** The set of secret values currently loaded; updated whenever key files are (re)read. */
export class SecretRegistry {
  private readonly values = new Map<string, number>();
  private pattern: RegExp | undefined;

  /** Registers values under an owner (e.g. a provider name), replacing that owner's previous ones. */
  set(owner: string, secrets: Iterable<string>): void {
    this.owners.set(owner, [...secrets].filter((s) => s.length >= MIN_SECRET_LENGTH));
    this.rebuild();
  }

  private readonly owners = new Map<string, string[]>();

  private rebuild(): void {
    this.values.clear();
    for (const list of this.owners.values()) for (const v of list) this.values.set(v, v.length);
    // Longest first, so a secret that contains another is replaced whole.
    const sorted = [...this.values.keys()].sort((a, b) => b.length - a.length);
    this.pattern = sorted.length ? new RegExp(sorted.map(escapeRegExp).join('|'), 'g') : undefined;
  }

  /** The text with every registered secret replaced. */
  scrub(text: string): string {
    return this.pattern ? text.replace(this.pattern, REPLACEMENT) : text;
  }
}

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
