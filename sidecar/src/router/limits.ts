/**
 * Limits the sidecar enforces: requests and tokens per minute (sliding window of one-second
 * buckets), requests in flight, and a daily budget in USD from the configured model prices.
 * The sandbox's limits refuse a call with 429; a provider's limits make the router pass it over
 * for the next candidate, as if it were rate limited upstream.
 */

const WINDOW_SECONDS = 60;

/** Counts in the last 60 seconds, in one-second buckets. */
export class SlidingWindow {
  private readonly buckets = new Float64Array(WINDOW_SECONDS);
  private readonly stamps = new Float64Array(WINDOW_SECONDS);

  constructor(private readonly now: () => number = Date.now) {}

  add(amount: number): void {
    const second = Math.floor(this.now() / 1000);
    const i = second % WINDOW_SECONDS;
    if (this.stamps[i] !== second) {
      this.stamps[i] = second;
      this.buckets[i] = 0;
    }
    this.buckets[i]! += amount;
  }

  /** The sum over the last 60 seconds. */
  total(): number {
    const second = Math.floor(this.now() / 1000);
    let sum = 0;
    for (let i = 0; i < WINDOW_SECONDS; i++) if (second - this.stamps[i]! < WINDOW_SECONDS) sum += this.buckets[i]!;
    return sum;
  }

  /** Milliseconds until the oldest counted second leaves the window. */
  msUntilRelief(): number {
    const now = this.now();
    const second = Math.floor(now / 1000);
    let oldest = second;
    for (let i = 0; i < WINDOW_SECONDS; i++) if (second - this.stamps[i]! < WINDOW_SECONDS && this.buckets[i]! > 0) oldest = Math.min(oldest, this.stamps[i]!);
    return Math.max(0, (oldest + WINDOW_SECONDS) * 1000 - now);
  }
}

export interface LimitSettings {
  requestsPerMinute?: number | undefined;
  tokensPerMinute?: number | undefined;
  maxConcurrent?: number | undefined;
  dailyBudgetUSD?: number | undefined;
}

/** Why a call may not start now, and when to try again. */
export interface LimitRefusal {
  /** Which limit refused. */
  limit: 'requests' | 'tokens' | 'concurrency' | 'budget';
  message: string;
  retryAfterMs: number;
}

export class Limiter {
  private readonly requests: SlidingWindow;
  private readonly tokens: SlidingWindow;
  private inFlight = 0;
  private day = '';
  private spentUSD = 0;

  constructor(
    private settings: LimitSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.requests = new SlidingWindow(now);
    this.tokens = new SlidingWindow(now);
  }

  /** New limits from a reloaded config; the counts so far stay. */
  update(settings: LimitSettings): void {
    this.settings = settings;
  }

  /** Checks every limit; when all allow, counts the request and one call in flight. */
  tryStart(what: string): LimitRefusal | undefined {
    const { requestsPerMinute, tokensPerMinute, maxConcurrent, dailyBudgetUSD } = this.settings;
    if (requestsPerMinute !== undefined && this.requests.total() >= requestsPerMinute) {
      return { limit: 'requests', message: `${what} allows ${requestsPerMinute} requests per minute`, retryAfterMs: this.requests.msUntilRelief() };
    }
    if (tokensPerMinute !== undefined && this.tokens.total() >= tokensPerMinute) {
      return { limit: 'tokens', message: `${what} allows ${tokensPerMinute} tokens per minute`, retryAfterMs: this.tokens.msUntilRelief() };
    }
    if (maxConcurrent !== undefined && this.inFlight >= maxConcurrent) {
      return { limit: 'concurrency', message: `${what} allows ${maxConcurrent} requests at once`, retryAfterMs: 1_000 };
    }
    if (dailyBudgetUSD !== undefined && this.spentToday() >= dailyBudgetUSD) {
      return { limit: 'budget', message: `${what} spent its daily budget of ${dailyBudgetUSD} USD`, retryAfterMs: msUntilUtcMidnight(this.now()) };
    }
    this.requests.add(1);
    this.inFlight += 1;
    return undefined;
  }

  /** The call is over: tokens and cost it used. */
  finish(tokens: number, costUSD: number): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (tokens > 0) this.tokens.add(tokens);
    if (costUSD > 0) {
      this.spentToday();
      this.spentUSD += costUSD;
    }
  }

  /** Spend so far this UTC day. */
  spentToday(): number {
    const today = new Date(this.now()).toISOString().slice(0, 10);
    if (today !== this.day) {
      this.day = today;
      this.spentUSD = 0;
    }
    return this.spentUSD;
  }
}

function msUntilUtcMidnight(now: number): number {
  const next = new Date(now);
  next.setUTCHours(24, 0, 0, 0);
  return next.getTime() - now;
}
