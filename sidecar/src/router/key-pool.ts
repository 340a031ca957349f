/**
 * API keys of one provider and their health. A key is healthy, resting (after a 429, until its
 * Retry-After or a cooldown passes), disabled (after a 401 or 403, until its file changes) or
 * withheld (its credentials file records another origin than the provider's baseURL, until the
 * next reload: the config and credentials volumes are swapped at different moments).
 * The least recently used healthy key is chosen, which spreads load and lets rate limits recover.
 */

export type KeyState = 'healthy' | 'resting' | 'disabled' | 'withheld';

/** A key as the pool hands it out: the value and an opaque id for reporting back. */
export interface Lease {
  /** Index of the key within the provider's apiKeys, for logs and metrics (never the value). */
  index: number;
  value: string | undefined;
}

interface Entry {
  value: string;
  state: KeyState;
  restingUntil: number;
  lastUsed: number;
}

/** Default rest after a 429 without Retry-After. */
export const DEFAULT_REST_MS = 30_000;

export class KeyPool {
  private entries: Entry[] = [];
  private tick = 0;

  constructor(
    values: readonly string[],
    private readonly now: () => number = Date.now,
    withheld: readonly boolean[] = [],
  ) {
    this.replace(values, withheld);
  }

  /**
   * Replaces the key values (a key file changed). A key whose value is unchanged keeps its state;
   * a new value starts healthy, so rotating a disabled key's Secret brings it back. A key marked
   * in `withheld` is kept (so it still counts, and the provider is not keyless) but never handed out.
   */
  replace(values: readonly string[], withheld: readonly boolean[] = []): void {
    const old = new Map(this.entries.filter((e) => e.state !== 'withheld').map((e) => [e.value, e]));
    this.entries = values.map((value, i) =>
      withheld[i] ? { value, state: 'withheld', restingUntil: 0, lastUsed: 0 } : (old.get(value) ?? { value, state: 'healthy', restingUntil: 0, lastUsed: 0 }),
    );
  }

  /** Whether the provider runs without keys (ollama, openai-compatible). */
  get keyless(): boolean {
    return this.entries.length === 0;
  }

  /** The least recently used healthy key, or undefined when every key rests or is disabled. */
  acquire(): Lease | undefined {
    if (this.keyless) return { index: -1, value: undefined };
    const now = this.now();
    let best: { entry: Entry; index: number } | undefined;
    this.entries.forEach((entry, index) => {
      if (entry.state === 'resting' && entry.restingUntil <= now) entry.state = 'healthy';
      if (entry.state !== 'healthy') return;
      if (!best || entry.lastUsed < best.entry.lastUsed) best = { entry, index };
    });
    if (!best) return undefined;
    best.entry.lastUsed = ++this.tick;
    return { index: best.index, value: best.entry.value };
  }

  /** Whether acquire() would hand out a key now. */
  hasAvailable(): boolean {
    return this.states().some((state) => state === 'healthy');
  }

  /** Whether the provider has keys and refused every one of them (401/403). */
  allDisabled(): boolean {
    return this.entries.length > 0 && this.entries.every((e) => e.state === 'disabled');
  }

  /** The provider rate-limited this key: rest it for retryAfterMs or the default. */
  rest(lease: Lease, retryAfterMs: number | undefined): void {
    const entry = this.entryFor(lease);
    if (!entry || entry.state === 'disabled') return;
    entry.state = 'resting';
    entry.restingUntil = this.now() + (retryAfterMs ?? DEFAULT_REST_MS);
  }

  /** The provider refused this key (401/403): stop using it until its value changes. */
  disable(lease: Lease): void {
    const entry = this.entryFor(lease);
    if (entry) entry.state = 'disabled';
  }

  /** Whether the provider has keys and none of them may be sent to its baseURL (all withheld). */
  allWithheld(): boolean {
    return this.entries.length > 0 && this.entries.every((e) => e.state === 'withheld');
  }

  /** Earliest time a resting key becomes usable again, for a Retry-After to the client. */
  nextAvailableAt(): number | undefined {
    const times = this.entries.filter((e) => e.state === 'resting').map((e) => e.restingUntil);
    return times.length ? Math.min(...times) : undefined;
  }

  /** States by key index, for the admin view. */
  states(): KeyState[] {
    const now = this.now();
    return this.entries.map((e) => (e.state === 'resting' && e.restingUntil <= now ? 'healthy' : e.state));
  }

  private entryFor(lease: Lease): Entry | undefined {
    const entry = this.entries[lease.index];
    // The keys may have been replaced since the lease: only touch the same value, and never
    // wake a withheld key by resting or disabling it.
    return entry && entry.value === lease.value && entry.state !== 'withheld' ? entry : undefined;
  }
}
