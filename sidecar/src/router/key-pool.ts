/**
 * API keys of one provider and their health. A key is healthy, disabled (after a 401: the provider
 * does not know it, until its file changes) or withheld (its credentials file records another
 * origin than the provider's baseURL, until the next reload: the config and credentials volumes
 * are swapped at different moments). For one model a key may also rest (after a 429, until its
 * Retry-After or a cooldown passes: providers limit rates per model); the key still serves the
 * provider's other models. A 403 changes nothing here: it is about the request (a model the
 * project may not use, a file it may not read, a beta it has not got), not the key (router.ts).
 * The least recently used key usable for the model is chosen, which spreads load and lets rate
 * limits recover.
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
  /** healthy, disabled or withheld: the key as a whole. */
  state: KeyState;
  /** Until when the key rests, by model. */
  resting: Map<string, number>;
  lastUsed: number;
}

const fresh = (value: string, state: KeyState = 'healthy'): Entry => ({ value, state, resting: new Map(), lastUsed: 0 });

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
    this.entries = values.map((value, i) => (withheld[i] ? fresh(value, 'withheld') : (old.get(value) ?? fresh(value))));
  }

  /** Whether the provider runs without keys (ollama, openai-compatible). */
  get keyless(): boolean {
    return this.entries.length === 0;
  }

  /** The least recently used key usable for `model`, or undefined when every key rests there or is disabled. */
  acquire(model: string): Lease | undefined {
    if (this.keyless) return { index: -1, value: undefined };
    const now = this.now();
    let best: { entry: Entry; index: number } | undefined;
    this.entries.forEach((entry, index) => {
      if (!this.usable(entry, model, now)) return;
      if (!best || entry.lastUsed < best.entry.lastUsed) best = { entry, index };
    });
    if (!best) return undefined;
    best.entry.lastUsed = ++this.tick;
    return { index: best.index, value: best.entry.value };
  }

  /** Whether acquire(model) would hand out a key other than `lease`'s now. */
  hasOther(lease: Lease, model: string): boolean {
    const now = this.now();
    return this.entries.some((entry, index) => index !== lease.index && this.usable(entry, model, now));
  }

  /** Whether acquire(model) would hand out a key now. */
  hasAvailable(model: string): boolean {
    const now = this.now();
    return this.keyless || this.entries.some((entry) => this.usable(entry, model, now));
  }

  /** Whether the provider has keys and refused every one of them (401). */
  allDisabled(): boolean {
    return this.entries.length > 0 && this.entries.every((e) => e.state === 'disabled');
  }

  /** The provider rate-limited this key for `model`: rest it there for retryAfterMs or the default. */
  rest(lease: Lease, model: string, retryAfterMs: number | undefined): void {
    this.entryFor(lease)?.resting.set(model, this.now() + (retryAfterMs ?? DEFAULT_REST_MS));
  }

  /** The provider does not know this key (401): stop using it until its value changes. */
  disable(lease: Lease): void {
    const entry = this.entryFor(lease);
    if (entry) entry.state = 'disabled';
  }

  /** Whether the provider has keys and none of them may be sent to its baseURL (all withheld). */
  allWithheld(): boolean {
    return this.entries.length > 0 && this.entries.every((e) => e.state === 'withheld');
  }

  /** Earliest time a key resting for `model` becomes usable again, for a Retry-After to the client. */
  nextAvailableAt(model: string): number | undefined {
    const times = this.entries.filter((e) => e.state === 'healthy' && e.resting.has(model)).map((e) => e.resting.get(model)!);
    return times.length ? Math.min(...times) : undefined;
  }

  /** States by key index, for the admin view and metrics: resting while it rests for any model. */
  states(): KeyState[] {
    const now = this.now();
    return this.entries.map((e) => (e.state === 'healthy' && [...e.resting.values()].some((until) => until > now) ? 'resting' : e.state));
  }

  private usable(entry: Entry, model: string, now: number): boolean {
    if (entry.state !== 'healthy') return false;
    const until = entry.resting.get(model);
    if (until === undefined) return true;
    if (until > now) return false;
    entry.resting.delete(model);
    return true;
  }

  private entryFor(lease: Lease): Entry | undefined {
    const entry = this.entries[lease.index];
    // The keys may have been replaced since the lease: only touch the same value, and never
    // wake a withheld key by resting or disabling it.
    return entry && entry.value === lease.value && entry.state !== 'withheld' ? entry : undefined;
  }
}
