import { describe, expect, it } from 'vitest';
import { Limiter, SlidingWindow } from './limits.js';

describe('SlidingWindow', () => {
  it('forgets what is older than a minute', () => {
    let now = 1_000_000;
    const window = new SlidingWindow(() => now);
    window.add(3);
    now += 30_000;
    window.add(2);
    expect(window.total()).toBe(5);
    now += 31_000;
    expect(window.total()).toBe(2);
    expect(window.msUntilRelief()).toBe(29_000);
  });
});

describe('Limiter', () => {
  it('refuses past requestsPerMinute with the wait until the window frees', () => {
    let now = 0;
    const limiter = new Limiter({ requestsPerMinute: 2 }, () => now);
    expect(limiter.tryStart('sandbox s')).toBeUndefined();
    expect(limiter.tryStart('sandbox s')).toBeUndefined();
    expect(limiter.tryStart('sandbox s')).toEqual({ limit: 'requests', message: 'sandbox s allows 2 requests per minute', retryAfterMs: 60_000 });
    now = 60_000;
    expect(limiter.tryStart('sandbox s')).toBeUndefined();
  });

  it('counts requests in flight until they finish', () => {
    const limiter = new Limiter({ maxConcurrent: 1 });
    expect(limiter.tryStart('x')).toBeUndefined();
    expect(limiter.tryStart('x')?.message).toBe('x allows 1 requests at once');
    limiter.finish(0, 0);
    expect(limiter.tryStart('x')).toBeUndefined();
  });

  it('refuses past tokensPerMinute once calls have used them', () => {
    const limiter = new Limiter({ tokensPerMinute: 100 });
    expect(limiter.tryStart('x')).toBeUndefined();
    limiter.finish(150, 0);
    expect(limiter.tryStart('x')?.message).toBe('x allows 100 tokens per minute');
  });

  it('refuses once the daily budget is spent, until midnight UTC', () => {
    let now = Date.parse('2026-11-21T23:00:00Z');
    const limiter = new Limiter({ dailyBudgetUSD: 1 }, () => now);
    expect(limiter.tryStart('x')).toBeUndefined();
    limiter.finish(10, 1.5);
    expect(limiter.tryStart('x')).toEqual({ limit: 'budget', message: 'x spent its daily budget of 1 USD', retryAfterMs: 3_600_000 });
    now = Date.parse('2026-11-22T00:00:01Z');
    expect(limiter.tryStart('x')).toBeUndefined();
  });

  // rt17 D1: a share of another day was ignored, so each pod of a sandbox had the whole limits at midnight.
  it("keeps a share's pod count on another day: an even part of the per-minute limits and of the whole budget", () => {
    const now = Date.parse('2026-11-22T00:00:01Z');
    const limiter = new Limiter({ requestsPerMinute: 10, dailyBudgetUSD: 1 }, () => now);
    limiter.setShare({ day: '2026-11-21', pods: 2, baseUSD: 0.75, allowanceUSD: 0 });
    for (let i = 0; i < 4; i++) {
      expect(limiter.tryStart('x')).toBeUndefined();
      limiter.finish(10, 0.125);
    }
    expect(limiter.tryStart('x')?.message).toBe('x spent its daily budget of 1 USD');
    limiter.update({ requestsPerMinute: 10 });
    expect(limiter.tryStart('x')).toBeUndefined();
    expect(limiter.tryStart('x')?.message).toBe('x allows 5 requests per minute (its share across 2 pods)');
  });

  it('lets a call that holds more than the budget run alone once the calls before it gave back what they held, whatever their prices summed to', () => {
    const limiter = new Limiter({ dailyBudgetUSD: 1 });
    const reserves = [0.1, 0.2, 0.3].map((costUSD) => ({ tokens: 10, costUSD }));
    for (const reserve of reserves) expect(limiter.tryStart('x', reserve)).toBeUndefined();
    for (const reserve of reserves) limiter.finish(0, 0, reserve);
    // Before: 5.6e-17 USD still held, so this call was never alone.
    expect(limiter.tryStart('x', { tokens: 10, costUSD: 2 })).toBeUndefined();
  });
});
