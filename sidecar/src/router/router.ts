/**
 * The failover loop. Candidates are tried in order; on each, up to retries.maxAttempts attempts
 * with exponential backoff, jitter and Retry-After; 5xx, 429, connection errors and timeouts
 * before the first byte move on, a client error (400, 404, 422 …) goes straight back. Keys are
 * rested on 429 for the model, disabled on 401; a circuit breaker skips providers that keep failing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay } from '../backoff.js';
import type { ModelEntryConfig, ProviderConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { ProviderAdapter, ProviderError } from '../providers/types.js';
import type { CallAbort, ProviderClient } from '../upstream/client.js';
import { classifyError, UpstreamFailure } from '../upstream/failure.js';
import type { CircuitBreaker } from './breaker.js';
import type { KeyPool, Lease } from './key-pool.js';
import type { Candidate } from './models.js';
import type { Limiter, Reservation } from './limits.js';
import type { Semaphore } from './semaphore.js';

/** A provider as the router uses it: its config plus the live pieces built from it. */
export interface ProviderRuntime {
  config: ProviderConfig;
  baseURL: string;
  adapter: ProviderAdapter;
  keys: KeyPool;
  breaker: CircuitBreaker;
  slots: Semaphore | undefined;
  /** The provider's requests and tokens per minute (maxConcurrent is `slots`). */
  limiter: Limiter;
  client: ProviderClient;
}

/** One attempt on one provider with one key. */
export interface Attempt {
  provider: ProviderRuntime;
  model: ModelEntryConfig;
  lease: Lease;
  /** Aborts when the client goes away or the total deadline passes (made on first use: see CallAbort). */
  readonly signal: AbortSignal;
  /** 1-based attempt number across the whole call. */
  number: number;
  /**
   * Frees the provider's concurrency slot and counts what the call used against the provider's
   * limits. The router calls it when the attempt fails; after a success the caller calls it once
   * the response (a whole stream) is over. Idempotent. A method: call it on the attempt.
   */
  release(tokens?: number, costUSD?: number): void;
}

/** Every candidate failed; carries the error the client gets. */
export class RoutingError extends Error {
  constructor(
    readonly error: ProviderError,
    readonly retryAfterMs?: number,
  ) {
    super(error.message);
    this.name = 'RoutingError';
  }
}

const MAX_BACKOFF_MS = 10_000;

export interface RouteOptions {
  log: Logger;
  /** Aborts on client disconnect or total deadline. */
  abort: CallAbort;
  /** Absolute deadline (ms since epoch). */
  deadline: number;
  random?: () => number;
  /** What the call is expected to use, held against each provider's token and budget limits while an attempt runs. */
  reserve?: Reservation;
  /** A call that uses none of the providers' limits (counting tokens). */
  uncounted?: boolean;
}

/**
 * Runs `run` against the candidates until one succeeds: on each candidate, up to its
 * retries.maxAttempts attempts. One async function for the whole loop (candidates and their
 * attempts), so a call holds one router frame across the upstream round trip, not two
 * (bench/README.md "Round 5: saturation").
 * @throws {UpstreamFailure} for a non-retryable provider answer (a client error), or when aborted.
 * @throws {RoutingError} when every candidate failed.
 */
export async function route<T>(candidates: Candidate<ProviderRuntime>[], run: (attempt: Attempt) => Promise<T>, options: RouteOptions): Promise<T> {
  const { log, abort, deadline } = options;
  const failures: UpstreamFailure[] = [];
  // Providers whose circuit is open are tried only when nothing else is left.
  const ordered = candidates.some(isOpen) ? [...candidates.filter((c) => !isOpen(c)), ...candidates.filter(isOpen)] : candidates;
  let number = 0;

  for (let position = 0; position < ordered.length; position++) {
    const candidate = ordered[position]!;
    const { provider } = candidate;
    const name = provider.config.name;
    // Keys rest (429) per model: the provider's other models keep them.
    const model = candidate.model.name;
    // A key the provider refused (403) in this call: if another key is then accepted, the 403 was
    // the key's (a project without the model, a key reported leaked), and it rests for the model.
    let forbidden: Lease | undefined;
    const probing = provider.breaker.state === 'half-open';
    const admitted = provider.breaker.tryAcquire();
    if (!admitted && position < ordered.length - 1) {
      log.warn({ provider: name }, 'circuit open: skipping provider');
      continue;
    }
    try {
      // The attempts on this candidate; `break` moves on to the next candidate.
      for (let attempt = 1; attempt <= provider.config.retries.maxAttempts; attempt++) {
        if (abort.aborted || Date.now() >= deadline) break;
        const lease = provider.keys.acquire(model);
        if (!lease) {
          failures.push(noKeyFailure(provider, model));
          break;
        }
        const reserve = provider.limiter.reserves ? options.reserve : undefined;
        const limited = options.uncounted ? undefined : provider.limiter.tryStart(`provider ${name}`, reserve);
        if (limited) {
          failures.push(new UpstreamFailure('status', name, { status: 429, type: 'rate_limit_error', message: limited.message }, limited.retryAfterMs));
          log.warn({ provider: name, reason: limited.message }, 'provider limit reached; failing over');
          break;
        }
        if (provider.slots) {
          try {
            await provider.slots.acquire(abort.signal);
          } catch (err) {
            // Given up while queued (client gone, deadline): nothing ran, what was held goes back.
            if (!options.uncounted) provider.limiter.finish(0, 0, reserve);
            throw classifyError(abort.reason ?? err, name, 'headers');
          }
        }
        const held = new HeldAttempt(provider, candidate.model, lease, abort, ++number, reserve, options.uncounted !== true);
        try {
          const value = await run(held);
          provider.breaker.success();
          if (forbidden && forbidden.index !== lease.index) {
            provider.keys.rest(forbidden, model, FORBIDDEN_REST_MS);
            log.warn({ provider: name, key: forbidden.index, model }, 'key refused (403) where another key was accepted: resting it for the model');
          }
          if (held.number > 1) log.info({ provider: name, attempt: held.number }, 'request succeeded after failover');
          return value;
        } catch (err) {
          held.release();
          if (!(err instanceof UpstreamFailure)) throw err;
          failures.push(err);
          if (err.kind === 'aborted' && !timedOut(deadline)) throw err;
          noteFailure(provider, lease, model, err, options.uncounted === true);
          if (refusedKey(err) && provider.keys.allDisabled()) {
            // That was the last key: say so now, as every later call will (see summarise).
            failures.push(noKeyFailure(provider, model));
            break;
          }
          if (!err.retryable) throw err;
          const status = err.error.status;
          // Another attempt here needs attempts left and, after a 429, another key to use; a 403
          // (the request, not the key) or a request too large for the rate goes to the next provider.
          // A 403 is tried once more with another key, if there is one, to tell the key's 403 from the request's.
          if (status === 403 && !forbidden) forbidden = lease;
          let again =
            status === 403
              ? forbidden === lease && provider.keys.hasOther(lease, model)
              : attempt < provider.config.retries.maxAttempts && !(status === 429 && (tooLargeForRate(err) || !provider.keys.hasAvailable(model)));
          // The other key's try is not one of the provider's attempts.
          if (again && status === 403) attempt -= 1;
          const delay = again && status !== 401 && status !== 403 ? backoff(attempt, provider.config.retries.baseDelayMs, err.retryAfterMs, options.random ?? Math.random) : 0;
          if (Date.now() + delay >= deadline) again = false;
          log.warn(
            { provider: name, attempt: held.number, key: lease.index, kind: err.kind, status, reason: err.error.message },
            again ? 'provider attempt failed; retrying' : 'provider attempt failed; failing over',
          );
          if (!again) break;
          if (delay > 0) await sleep(delay, undefined, { signal: abort.signal }).catch(() => undefined);
        }
      }
    } finally {
      // A half-open probe that ended without a verdict (client gone, no key) must not hold the
      // circuit half-open for ever: the next request probes again.
      if (admitted && probing) provider.breaker.release();
    }
  }
  throw summarise(failures, timedOut(deadline));
}

function isOpen(candidate: Candidate<ProviderRuntime>): boolean {
  return candidate.provider.breaker.state === 'open';
}

/** An attempt that holds its provider's slot and counts against its limits until released. A class: no closure per attempt. */
class HeldAttempt implements Attempt {
  private held = true;

  constructor(
    readonly provider: ProviderRuntime,
    readonly model: ModelEntryConfig,
    readonly lease: Lease,
    private readonly abort: CallAbort,
    readonly number: number,
    private readonly reserve: Reservation | undefined,
    private readonly counted: boolean,
  ) {}

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  release(tokens = 0, costUSD = 0): void {
    if (!this.held) return;
    this.held = false;
    this.provider.slots?.release();
    if (this.counted) this.provider.limiter.finish(tokens, costUSD, this.reserve);
  }
}

/** How long a key rests for a model after a 403 another key was not refused: a key-wide refusal lasts. */
const FORBIDDEN_REST_MS = 10 * 60_000;

/** Code of the error a client gets when the provider refused every key (401/403). */
export const CREDENTIALS_REJECTED = 'provider_credentials_rejected';

/** Why no key could be used for `model`: every key refused (a lasting problem) or resting (a 429 that passes). */
function noKeyFailure(provider: ProviderRuntime, model: string): UpstreamFailure {
  const name = provider.config.name;
  if (provider.keys.allDisabled()) {
    return new UpstreamFailure('status', name, {
      status: 503,
      type: 'api_error',
      code: CREDENTIALS_REJECTED,
      message: `provider ${name} credentials rejected: the provider refused every API key (401); they are not used again until their Secret changes`,
    });
  }
  if (provider.keys.allWithheld()) {
    return new UpstreamFailure('status', name, {
      status: 503,
      type: 'api_error',
      message: `provider ${name} has no API key for its baseURL: its keys were accepted for another origin (the config and the credentials are being updated; the next reload settles it)`,
    });
  }
  const next = provider.keys.nextAvailableAt(model);
  return new UpstreamFailure('status', name, { status: 429, type: 'rate_limit_error', message: `every key of provider ${name} is resting or disabled` }, next ? next - Date.now() : undefined);
}

/** A key refused (401), or a provider left with no key it may use. */
function refusedKey(failure: UpstreamFailure): boolean {
  const { code, status } = failure.error;
  return code === CREDENTIALS_REJECTED || (failure.kind === 'status' && status === 401);
}

/**
 * A 429 about this request alone, not the key's rate: OpenAI's "Request too large for gpt-4o …
 * Requested 45000" (one prompt past the whole per-minute limit). Resting the key for it would
 * pause the model for every caller.
 */
function tooLargeForRate(failure: UpstreamFailure): boolean {
  return /^Request too large\b/i.test(failure.error.message);
}

function timedOut(deadline: number): boolean {
  return Date.now() >= deadline;
}

/**
 * What a failed attempt says about the key and the provider. A 403 leaves the key alone: it is
 * about the request (a model the project may not use, an expired file, a beta header), and the
 * next key or provider is tried. A counting call's 429 leaves generation's rate alone: providers
 * limit counting apart.
 */
function noteFailure(provider: ProviderRuntime, lease: Lease, model: string, failure: UpstreamFailure, counting: boolean): void {
  const status = failure.error.status;
  if (failure.kind === 'status' && status === 401) provider.keys.disable(lease);
  if (failure.kind === 'status' && status === 429 && !counting && !tooLargeForRate(failure)) provider.keys.rest(lease, model, failure.retryAfterMs);
  if (failure.countsAgainstProvider) provider.breaker.failure();
  // The provider answered (429, 400, 401 …, or more than the sidecar holds): it is up, whatever
  // it thought of the request.
  else if (failure.kind === 'status' || failure.kind === 'too_large') provider.breaker.success();
}

/** Exponential backoff with jitter of half the nominal delay either way; Retry-After wins when longer. */
export function backoff(attempt: number, baseDelayMs: number, retryAfterMs: number | undefined, random: () => number): number {
  return Math.max(backoffDelay(attempt, { baseMs: baseDelayMs, maxMs: MAX_BACKOFF_MS, jitter: [0.5, 1.5] }, random), retryAfterMs ?? 0);
}

/** The error the client gets when nothing worked: the most telling status, every reason named. */
function summarise(failures: UpstreamFailure[], timedOut: boolean): RoutingError {
  const reasons = failures.map((f) => f.error.message);
  const unique = [...new Set(reasons)].join('; ');
  if (timedOut) {
    return new RoutingError({ status: 504, type: 'timeout_error', message: `no provider answered within the total timeout${unique ? `: ${unique}` : ''}` });
  }
  if (failures.length > 0 && failures.every((f) => f.error.status === 429)) {
    const waits = failures.map((f) => f.retryAfterMs).filter((w): w is number => w !== undefined);
    return new RoutingError(
      // A request too large for any provider's per-minute limit is the request's, not a rate to wait out.
      { status: 429, type: 'rate_limit_error', message: failures.every(tooLargeForRate) ? unique : `every provider is rate limited: ${unique}` },
      waits.length ? Math.min(...waits) : undefined,
    );
  }
  // The call that finds the last key refused has the provider's own 401/403 among its failures:
  // it is the same lasting problem as every later call's, so it gets the same code.
  if (failures.some((f) => f.error.code === CREDENTIALS_REJECTED) && failures.every(refusedKey)) {
    // Each reason already names its provider's rejected credentials.
    return new RoutingError({ status: 503, type: 'api_error', code: CREDENTIALS_REJECTED, message: unique });
  }
  // Refused by every provider for this request (403): the client's to fix, in the providers' words.
  if (failures.length > 0 && failures.every((f) => f.kind === 'status' && f.error.status === 403)) {
    return new RoutingError({ status: 403, type: 'permission_error', message: unique });
  }
  // Overloaded everywhere (Anthropic's 529, a 503): said as such, with the providers' Retry-After.
  if (failures.length > 0 && failures.every((f) => f.error.status === 529 || f.error.status === 503)) {
    const waits = failures.map((f) => f.retryAfterMs).filter((w): w is number => w !== undefined);
    const overloaded = failures.every((f) => f.error.status === 529);
    return new RoutingError(
      { status: overloaded ? 529 : 503, type: overloaded ? 'overloaded_error' : 'api_error', message: `every provider is overloaded or unavailable: ${unique}` },
      waits.length ? Math.min(...waits) : undefined,
    );
  }
  if (failures.length === 0) {
    return new RoutingError({ status: 503, type: 'api_error', message: 'no provider is available' });
  }
  return new RoutingError({ status: 503, type: 'api_error', message: `every provider failed: ${unique}` });
}
