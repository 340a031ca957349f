import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.js';

describe('backoffDelay', () => {
  it('doubles with each attempt from the base and stops at the maximum', () => {
    const b = { baseMs: 500, maxMs: 30_000 };
    expect([1, 2, 3, 4, 7, 8, 1_000].map((n) => backoffDelay(n, b))).toEqual([500, 1_000, 2_000, 4_000, 30_000, 30_000, 30_000]);
  });

  it('draws the delay within the jitter range of the ceiling', () => {
    const b = { baseMs: 500, maxMs: 30_000, jitter: [0.5, 1] as const };
    expect([1, 2, 3].map((n) => backoffDelay(n, b, () => 0))).toEqual([250, 500, 1_000]);
    expect([1, 2, 3].map((n) => backoffDelay(n, b, () => 1))).toEqual([500, 1_000, 2_000]);
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(5, b)));
    expect(delays.size).toBeGreaterThan(10);
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(4_000);
    for (const d of delays) expect(d).toBeLessThanOrEqual(8_000);
  });
});
