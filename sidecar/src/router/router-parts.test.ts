import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './breaker.js';
import { KeyPool } from './key-pool.js';
import { Semaphore } from './semaphore.js';

describe('KeyPool', () => {
  it('hands out the least recently used healthy key', () => {
    const pool = new KeyPool(['k1', 'k2', 'k3']);
    expect([pool.acquire('m'), pool.acquire('m'), pool.acquire('m'), pool.acquire('m')].map((l) => l?.value)).toEqual(['k1', 'k2', 'k3', 'k1']);
  });

  it('rests a rate-limited key until Retry-After, then uses it again', () => {
    let now = 1_000;
    const pool = new KeyPool(['k1', 'k2'], () => now);
    const first = pool.acquire('m')!;
    pool.rest(first, 'm', 5_000);
    expect(pool.states()).toEqual(['resting', 'healthy']);
    expect([pool.acquire('m')?.value, pool.acquire('m')?.value]).toEqual(['k2', 'k2']);
    expect(pool.nextAvailableAt('m')).toBe(6_000);
    now = 6_000;
    expect(pool.acquire('m')?.value).toBe('k1');
  });

  it('rests a key for one model only: a 429 about a model leaves it serving the others', () => {
    let now = 1_000;
    const pool = new KeyPool(['k1'], () => now);
    pool.rest(pool.acquire('gpt-4o')!, 'gpt-4o', 5_000);
    expect(pool.acquire('gpt-4o')).toBeUndefined();
    expect(pool.acquire('gpt-4o-mini')?.value).toBe('k1');
    expect(pool.states()).toEqual(['resting']);
    expect(pool.nextAvailableAt('gpt-4o')).toBe(6_000);
    now = 6_000;
    expect(pool.acquire('gpt-4o')?.value).toBe('k1');
    expect(pool.states()).toEqual(['healthy']);
  });

  it('disables a refused key until its value changes', () => {
    const pool = new KeyPool(['bad', 'good']);
    pool.disable(pool.acquire('m')!);
    expect([pool.acquire('m')?.value, pool.acquire('m')?.value]).toEqual(['good', 'good']);
    pool.replace(['rotated', 'good']);
    expect(pool.states()).toEqual(['healthy', 'healthy']);
    pool.disable(pool.acquire('m')!);
    pool.disable(pool.acquire('m')!);
    expect(pool.acquire('m')).toBeUndefined();
  });

  it('keeps the state of unchanged keys across a reload and ignores stale leases', () => {
    const pool = new KeyPool(['a', 'b']);
    const lease = pool.acquire('m')!;
    pool.replace(['x', 'b']);
    pool.disable(lease);
    expect(pool.states()).toEqual(['healthy', 'healthy']);
  });

  it('never hands out a withheld key, not even woken by a stale lease, until a reload clears it', () => {
    const pool = new KeyPool(['a', 'b']);
    const lease = pool.acquire('m')!;
    pool.replace(['a', 'b'], [true, true]);
    pool.rest(lease, 'm', 0);
    pool.disable(lease);
    expect(pool.states()).toEqual(['withheld', 'withheld']);
    expect(pool.acquire('m')).toBeUndefined();
    expect(pool.keyless).toBe(false);
    expect(pool.allWithheld()).toBe(true);
    pool.replace(['a', 'b'], [false, true]);
    expect([pool.acquire('m')?.value, pool.acquire('m')?.value]).toEqual(['a', 'a']);
    expect(pool.allWithheld()).toBe(false);
  });

  it('gives keyless providers a lease without a value', () => {
    expect(new KeyPool([]).acquire('m')).toEqual({ index: -1, value: undefined });
  });
});

describe('CircuitBreaker', () => {
  it('opens after the threshold, lets one probe through after the cooldown, closes on success', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ threshold: 2, cooldownMs: 100, now: () => now });
    breaker.failure();
    expect(breaker.tryAcquire()).toBe(true);
    breaker.failure();
    expect(breaker.state).toBe('open');
    expect(breaker.tryAcquire()).toBe(false);
    now = 100;
    expect(breaker.state).toBe('half-open');
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(false);
    breaker.success();
    expect(breaker.state).toBe('closed');
  });

  it('opens again when the half-open probe fails', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ threshold: 1, cooldownMs: 100, now: () => now });
    breaker.failure();
    now = 150;
    expect(breaker.tryAcquire()).toBe(true);
    breaker.failure();
    expect(breaker.state).toBe('open');
  });
});

describe('Semaphore', () => {
  it('queues past the limit in order and lets an aborted waiter go', async () => {
    const sem = new Semaphore(1);
    await sem.acquire();
    const order: string[] = [];
    const controller = new AbortController();
    const aborted = sem.acquire(controller.signal).catch(() => order.push('aborted'));
    const second = sem.acquire().then(() => order.push('second'));
    controller.abort();
    await aborted;
    sem.release();
    await second;
    expect(order).toEqual(['aborted', 'second']);
  });
});
