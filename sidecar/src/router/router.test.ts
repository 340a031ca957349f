import { describe, expect, it } from 'vitest';
import { createLogger } from '../log/logger.js';
import { CallAbort } from '../upstream/client.js';
import { UpstreamFailure } from '../upstream/failure.js';
import { CircuitBreaker } from './breaker.js';
import { KeyPool } from './key-pool.js';
import { Limiter } from './limits.js';
import { route, type Attempt, type ProviderRuntime } from './router.js';

const log = createLogger({ level: 'silent' });
const COOLDOWN = 30_000;

function provider(name: string, now: () => number, keys: string[] = []): ProviderRuntime {
  return {
    config: { name, retries: { maxAttempts: 1, baseDelayMs: 1 } },
    keys: new KeyPool(keys, now),
    breaker: new CircuitBreaker({ threshold: 5, cooldownMs: COOLDOWN, now }),
    slots: undefined,
    limiter: new Limiter({}, now),
  } as unknown as ProviderRuntime;
}

const model = { name: 'm' } as Attempt['model'];
const failure = (status: number, name = 'primary') =>
  new UpstreamFailure('status', name, { status, type: 'api_error', message: `status ${status}` });

/** Routes one call: `primary` answers with `answer` (a failure throws), the fallback succeeds. */
async function call(primary: ProviderRuntime, fallback: ProviderRuntime, answer: (p: string) => unknown) {
  const tried: string[] = [];
  const result = await route(
    [{ provider: primary, model }, { provider: fallback, model }],
    async (attempt) => {
      tried.push(attempt.provider.config.name);
      const outcome = answer(attempt.provider.config.name);
      if (outcome instanceof Error) throw outcome;
      return outcome;
    },
    { log, abort: new CallAbort(), deadline: Date.now() + 60_000 },
  ).catch((err: unknown) => err);
  return { tried, result };
}

describe('a recovered primary behind a circuit breaker', () => {
  const aborted = () => new UpstreamFailure('aborted', 'primary', { status: 499, type: 'api_error', message: 'request aborted' });
  it.each([
    ['429', () => failure(429)],
    ['400', () => failure(400)],
    ['a client disconnect', aborted],
  ])('is tried again after a half-open probe that ended in %s', async (_what, probeOutcome) => {
    let now = 1_000_000;
    const primary = provider('primary', () => now);
    const fallback = provider('fallback', () => now);
    for (let i = 0; i < 5; i++) await call(primary, fallback, (p) => (p === 'primary' ? failure(500) : 'ok'));
    expect(primary.breaker.state).toBe('open');
    expect((await call(primary, fallback, () => 'ok')).tried).toEqual(['fallback']);

    now += COOLDOWN;
    // The probe: the primary answers 429 / 400, or the client goes away while it is in flight.
    await call(primary, fallback, (p) => (p === 'primary' ? probeOutcome() : 'ok'));
    // The primary is healthy again: the next calls go to it.
    const next = await call(primary, fallback, () => 'ok');
    expect(next.tried).toEqual(['primary']);
    expect(primary.breaker.state).toBe('closed');
  });

  it('is probed again when the probe could not start for want of a key', async () => {
    let now = 1_000_000;
    const primary = provider('primary', () => now, ['k1']);
    const fallback = provider('fallback', () => now);
    for (let i = 0; i < 5; i++) await call(primary, fallback, (p) => (p === 'primary' ? failure(500) : 'ok'));
    now += COOLDOWN;
    primary.keys.rest(primary.keys.acquire('m')!, 'm', 1_000);
    expect((await call(primary, fallback, () => 'ok')).tried).toEqual(['fallback']);
    now += 1_000;
    expect((await call(primary, fallback, () => 'ok')).tried).toEqual(['primary']);
  });
});

describe('a provider that refused every key', () => {
  it('gives a 503 "provider credentials rejected" without Retry-After, not a 429', async () => {
    const now = () => 1_000_000;
    const only = provider('only', now, ['sk-revoked']);
    const first = await route([{ provider: only, model }], async () => Promise.reject(failure(401, 'only')), { log, abort: new CallAbort(), deadline: Date.now() + 60_000 }).catch((e: unknown) => e);
    // The call that disables the last key already says so: the client need not call again to learn it.
    expect(first).toMatchObject({ error: { status: 503, code: 'provider_credentials_rejected', message: expect.stringContaining('status 401') } });
    const later = (await route([{ provider: only, model }], async () => 'never', { log, abort: new CallAbort(), deadline: Date.now() + 60_000 }).catch((e: unknown) => e)) as {
      error: { status: number; code: string; message: string };
      retryAfterMs?: number;
    };
    expect(later.error).toMatchObject({ status: 503, code: 'provider_credentials_rejected', message: expect.stringContaining('credentials rejected') });
    expect(later.retryAfterMs).toBeUndefined();
  });
});
