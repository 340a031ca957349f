import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { WorkQueue } from './queue.js';

const options = { concurrency: 2, baseDelayMs: 5, maxDelayMs: 50 };

describe('WorkQueue', () => {
  it('merges a key added many times while queued', async () => {
    const seen: string[] = [];
    const queue = new WorkQueue(async (key) => void seen.push(key), { ...options, concurrency: 1 });
    queue.add('a');
    queue.add('b');
    queue.add('b');
    queue.add('b');
    await queue.idle();
    expect(seen).toEqual(['a', 'b']);
  });

  it('runs a key once more when it was added during its reconcile, never concurrently', async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const queue = new WorkQueue(async () => {
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      runs += 1;
      await sleep(20);
      running -= 1;
    }, options);
    queue.add('k');
    await sleep(5);
    queue.add('k');
    queue.add('k');
    await queue.idle();
    expect(runs).toBe(2);
    expect(maxRunning).toBe(1);
  });

  it('retries a failing key with backoff until it succeeds', async () => {
    let attempts = 0;
    const errors: number[] = [];
    const queue = new WorkQueue(
      async () => {
        attempts += 1;
        if (attempts < 3) throw new Error('not yet');
      },
      { ...options, onError: (_key, _err, attempt) => errors.push(attempt) },
    );
    queue.add('k');
    await expect.poll(() => attempts, { timeout: 2_000 }).toBe(3);
    expect(errors).toEqual([1, 2]);
  });

  it('requeues after the delay a reconcile asks for', async () => {
    let runs = 0;
    const queue = new WorkQueue(async () => ((runs += 1), runs === 1 ? { requeueAfterMs: 10 } : undefined), options);
    queue.add('k');
    await expect.poll(() => runs, { timeout: 2_000 }).toBe(2);
    await queue.stop();
  });
});
