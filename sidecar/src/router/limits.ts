/**
 * Limits the sidecar enforces: requests and tokens per minute (sliding window of one-second
 * buckets), requests in flight, and a daily budget in USD from the configured model prices.
 * The sandbox's limits refuse a call with 429; a provider's limits make the router pass it over
 * for the next candidate, as if it were rate limited upstream.
 */

import { UtcDayClock } from '../usage/wire.js';

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

/** The limits a call can be refused by. */
export const LIMIT_KINDS = ['requests', 'tokens', 'concurrency', 'budget'] as const;

/** Why a call may not start now, and when to try again. */
export interface LimitRefusal {
  /** Which limit refused. */
  limit: (typeof LIMIT_KINDS)[number];
  message: string;
  retryAfterMs: number;
  /** Refused for what calls in flight hold (and this one would), not for what was used. */
  held?: true;
}

/**
 * This pod's share of a sandbox that runs in several pods, from the last sync with the operator
 * (ADR 0014): per-minute and concurrency limits are split evenly between the pods, and of the
 * budget left sandbox-wide each pod may spend its even part before the next sync.
 */
export interface SandboxShare {
  /**
   * UTC day the share is for. Of a share of another day (the operator has not counted this pod's
   * day yet, or its clock or this pod's is on the other side of midnight) only `pods` holds: this
   * pod may spend `dailyBudgetUSD / pods` of its day, as if nothing were spent yet.
   */
  day: string;
  /** Pods of the sandbox (at least 1); not day-bound. */
  pods: number;
  /** This pod's spend today as the operator last counted it. */
  baseUSD: number;
  /** What this pod may spend beyond `baseUSD` today: its part of what was left sandbox-wide then. */
  allowanceUSD: number;
}

/**
 * What a call is expected to use, held against the token and budget limits while it runs: calls
 * in flight count what they may still spend, so an agent cannot multiply its limits by running
 * many calls at once (each is admitted only while the used and the held stay under the limit).
 */
export interface Reservation {
  tokens: number;
  costUSD: number;
}

const NOTHING: Reservation = { tokens: 0, costUSD: 0 };

/** Retry-After of a refusal because of what calls in flight hold: they end in seconds. */
const IN_FLIGHT_RETRY_MS = 2_000;

/** What a call in flight holds, told with a refusal it caused (docs/sidecar-config.md `limits`). */
const HELD = ' (each holds its input and its max_tokens, 4,096 when it sets none, for each answer it asks for, at the price of the dearest model it may fail over to; set max_tokens to hold less)';

export class Limiter {
  private readonly requests: SlidingWindow;
  private readonly tokens: SlidingWindow;
  private inFlight = 0;
  private heldTokens = 0;
  private heldUSD = 0;
  private day = '';
  private readonly clock: UtcDayClock;
  private spentUSD = 0;
  private share: SandboxShare | undefined;
  /**
   * Counting tokens (`count_tokens`, `:countTokens`): free at the providers and rate-limited there
   * apart from generation, so it uses none of these counts, yet it spends the provider key's
   * counting quota. It has the same requests per minute and requests at once, counted on their own.
   */
  readonly counting: Limiter | undefined;

  constructor(
    private settings: LimitSettings,
    private readonly now: () => number = Date.now,
    /** A sandbox's limiter keeps the counting one; a provider's limits do not apply to counting. */
    counts = false,
  ) {
    this.clock = new UtcDayClock(now);
    this.requests = new SlidingWindow(now);
    this.tokens = new SlidingWindow(now);
    this.counting = counts ? new Limiter(countingOf(settings), now, false) : undefined;
  }

  /** New limits from a reloaded config; the counts so far stay. */
  update(settings: LimitSettings): void {
    this.settings = settings;
    this.counting?.update(countingOf(settings));
  }

  /** The sandbox-wide view from the last sync; undefined while this pod only knows itself. */
  setShare(share: SandboxShare | undefined): void {
    this.share = share;
    this.counting?.setShare(share);
  }

  /** Whether a reservation matters here: a token or budget limit is set. */
  get reserves(): boolean {
    return this.settings.tokensPerMinute !== undefined || this.settings.dailyBudgetUSD !== undefined;
  }

  /**
   * Checks every limit, counting what calls in flight hold; when all allow, counts the request,
   * one call in flight and holds `reserve` until finish(). Runs on every call: no closures, and
   * the refusal's message is only built when there is a refusal.
   */
  tryStart(what: string, reserve: Reservation = NOTHING): LimitRefusal | undefined {
    this.spentToday();
    // The pod count holds across midnight: a share of another day must not give each pod the
    // whole of the limits until the operator has counted the new day (ADR 0014).
    const pods = this.share?.pods ?? 1;
    const share = this.share?.day === this.day ? this.share : undefined;
    const { requestsPerMinute, tokensPerMinute, maxConcurrent, dailyBudgetUSD } = this.settings;
    if (requestsPerMinute !== undefined && this.requests.total() >= split(requestsPerMinute, pods)) {
      return { limit: 'requests', message: `${what} allows ${split(requestsPerMinute, pods)} requests per minute${across(pods)}`, retryAfterMs: this.requests.msUntilRelief() };
    }
    // A call is admitted while what is used, what calls in flight hold and what it holds itself stay
    // within the limit, or when it would run alone (nothing held) under a limit not yet used up.
    if (tokensPerMinute !== undefined && overHeld(this.tokens.total(), this.heldTokens, reserve.tokens, split(tokensPerMinute, pods))) {
      // Used up, or held by calls still running: those end (and give back what they did not use) in seconds.
      if (this.tokens.total() < split(tokensPerMinute, pods)) {
        return { limit: 'tokens', message: `${what} allows ${split(tokensPerMinute, pods)} tokens per minute${across(pods)}, and calls in flight may use the rest${HELD}`, retryAfterMs: IN_FLIGHT_RETRY_MS, held: true };
      }
      return { limit: 'tokens', message: `${what} allows ${split(tokensPerMinute, pods)} tokens per minute${across(pods)}`, retryAfterMs: this.tokens.msUntilRelief() };
    }
    if (maxConcurrent !== undefined && this.inFlight >= split(maxConcurrent, pods)) {
      return { limit: 'concurrency', message: `${what} allows ${split(maxConcurrent, pods)} requests at once${across(pods)}`, retryAfterMs: 1_000 };
    }
    if (dailyBudgetUSD !== undefined) {
      const [spent, budget] = share ? [this.spentUSD - share.baseUSD, share.allowanceUSD] : [this.spentUSD, dailyBudgetUSD / pods];
      if (spent >= budget) return { limit: 'budget', message: `${what} spent its daily budget of ${dailyBudgetUSD} USD`, retryAfterMs: msUntilUtcMidnight(this.now()) };
      if (overHeld(spent, this.heldUSD, reserve.costUSD, budget)) {
        return { limit: 'budget', message: `${what} has a daily budget of ${dailyBudgetUSD} USD, and calls in flight may spend the rest${HELD}`, retryAfterMs: IN_FLIGHT_RETRY_MS, held: true };
      }
    }
    this.requests.add(1);
    this.inFlight += 1;
    this.heldTokens += reserve.tokens;
    this.heldUSD += reserve.costUSD;
    return undefined;
  }

  /** The call is over: tokens and cost it used, and what it held (the same `reserve` as tryStart's). */
  finish(tokens: number, costUSD: number, reserve: Reservation = NOTHING): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (this.inFlight === 0) {
      // Nothing in flight holds nothing: sums and differences of prices leave a residue (0.1 +
      // 0.2 + 0.3 held, each given back, left 5.6e-17), and a call that may only run alone was
      // then refused for ever.
      this.heldTokens = 0;
      this.heldUSD = 0;
    } else {
      this.heldTokens = Math.max(0, this.heldTokens - reserve.tokens);
      this.heldUSD = Math.max(0, this.heldUSD - reserve.costUSD);
    }
    if (tokens > 0) this.tokens.add(tokens);
    if (costUSD > 0) {
      this.spentToday();
      this.spentUSD += costUSD;
    }
  }

  /** Spend so far this UTC day. */
  spentToday(): number {
    const today = this.clock.today();
    if (today !== this.day) {
      this.day = today;
      this.spentUSD = 0;
    }
    return this.spentUSD;
  }
}

function countingOf({ requestsPerMinute, maxConcurrent }: LimitSettings): LimitSettings {
  return { requestsPerMinute, maxConcurrent };
}

/** Whether a call holding `own` may not start: over the limit with it, unless nothing else is held and the limit is not used up. */
function overHeld(used: number, held: number, own: number, limit: number): boolean {
  if (used >= limit) return true;
  return held > 0 && used + held + own > limit;
}

/** This pod's even part of a sandbox-wide limit (at least 1). */
function split(limit: number, pods: number): number {
  return Math.max(1, Math.ceil(limit / pods));
}

function across(pods: number): string {
  return pods > 1 ? ` (its share across ${pods} pods)` : '';
}

function msUntilUtcMidnight(now: number): number {
  const next = new Date(now);
  next.setUTCHours(24, 0, 0, 0);
  return next.getTime() - now;
}
