/**
 * A circuit breaker per provider: after `threshold` consecutive failures the provider is skipped
 * for `cooldownMs`; then one probe request is let through (half-open). Any answer from the
 * provider that is not a server error closes the circuit (a 429 or 400 shows it is up), a server
 * error or broken connection opens it again, and a probe without a verdict lets the next one in.
 */

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  threshold: number;
  cooldownMs: number;
  now?: () => number;
}

export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private probing = false;
  private readonly now: () => number;

  constructor(private readonly options: BreakerOptions) {
    this.now = options.now ?? Date.now;
  }

  get state(): BreakerState {
    if (this.failures < this.options.threshold) return 'closed';
    return this.now() - this.openedAt >= this.options.cooldownMs ? 'half-open' : 'open';
  }

  /** Whether a request may go to the provider now; in half-open state only one at a time. */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.probing) return false;
    this.probing = true;
    return true;
  }

  /**
   * Ends a half-open probe that gave no verdict on the provider's health (the client went away,
   * no key or limit let it start): the next request probes again. Idempotent.
   */
  release(): void {
    this.probing = false;
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
  }

  failure(): void {
    this.probing = false;
    this.failures += 1;
    if (this.failures >= this.options.threshold) this.openedAt = this.now();
  }
}
