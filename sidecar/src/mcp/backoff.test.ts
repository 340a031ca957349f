import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.js';

describe('backoffDelay', () => {
  const tuning = { backoffBaseMs: 500, backoffMaxMs: 30_000 };

  it('doubles with each consecutive failure, between half and all of the ceiling', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, tuning, () => 0))).toEqual([250, 500, 1_000, 2_000]);
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, tuning, () => 1))).toEqual([500, 1_000, 2_000, 4_000]);
  });

  it('stops growing at the maximum', () => {
    expect(backoffDelay(30, tuning, () => 1)).toBe(30_000);
    expect(backoffDelay(1_000, tuning, () => 0)).toBe(15_000);
  });

  it('spreads retries with jitter', () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(5, tuning)));
    expect(delays.size).toBeGreaterThan(10);
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(4_000);
  });
});
