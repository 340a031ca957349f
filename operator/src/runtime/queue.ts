/**
 * The work queue: keys, not events. A key added while queued is merged; a key added while its
 * reconcile runs is marked dirty and runs once more afterwards, so the reconciler always reads
 * the latest cached object. Failures are retried per key with exponential backoff.
 */
import { backoffDelay } from '@airlock/sidecar/backoff';

export interface QueueOptions {
  /** Reconciles running at once (different keys). */
  concurrency: number;
  baseDelayMs: number;
  maxDelayMs: number;
  onError?: (key: string, err: unknown, attempt: number) => void;
}

export type Reconcile = (key: string) => Promise<ReconcileResult | void>;

/** What a reconcile may ask for besides success. */
export interface ReconcileResult {
  /** Run again after this long even if nothing changes (periodic probes). */
  requeueAfterMs?: number;
}

export class WorkQueue {
  private readonly queued = new Set<string>();
  private readonly order: string[] = [];
  private readonly running = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private active = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly reconcile: Reconcile,
    private readonly options: QueueOptions,
  ) {}

  /** Queues a key (merged with a queued copy; deferred if its reconcile is running). */
  add(key: string): void {
    if (this.stopped) return;
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.order.push(key);
    this.pump();
  }

  /** Queues a key after a delay; an earlier pending delay for the key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.stopped || this.timers.has(key)) return;
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, timer);
  }

  /** Number of keys waiting or running. */
  get length(): number {
    return this.order.length + this.running.size;
  }

  /** Resolves when nothing is queued or running (tests and shutdown). */
  idle(): Promise<void> {
    if (this.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops taking keys; resolves when running reconciles finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.order.length = 0;
    this.queued.clear();
    await this.idle();
  }

  private pump(): void {
    while (this.active < this.options.concurrency && this.order.length > 0) {
      const key = this.order.shift()!;
      this.queued.delete(key);
      this.running.add(key);
      this.active += 1;
      void this.run(key);
    }
    if (this.length === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  private async run(key: string): Promise<void> {
    try {
      const result = await this.reconcile(key);
      this.failures.delete(key);
      if (result?.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    } catch (err) {
      const attempt = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, attempt);
      this.options.onError?.(key, err, attempt);
      this.addAfter(key, backoffDelay(attempt, { baseMs: this.options.baseDelayMs, maxMs: this.options.maxDelayMs, jitter: [0.75, 1.25] }));
    } finally {
      this.running.delete(key);
      this.active -= 1;
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
    }
  }
}
