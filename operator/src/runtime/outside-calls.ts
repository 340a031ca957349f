/**
 * Calls to servers a resource author chose (MCP tool discovery, the provider probe), run beside
 * the reconcile queue rather than in its workers. A reconcile starts one and waits for it a
 * moment; a server that answers in that moment is seen at once, one that does not finishes in the
 * background and its object is reconciled again then. At most `concurrency` run at once, and at
 * most `perNamespace` of one namespace: one namespace's servers that never answer held every
 * worker of the one queue all namespaces share, for the author's `connectMs` (up to 300 s), and
 * another namespace's new sandbox waited minutes for its status.
 */
export interface OutsideCallLimits {
  concurrency: number;
  perNamespace: number;
}

interface Job {
  key: string;
  namespace: string;
  call: () => Promise<void>;
  settled: () => void;
}

/** The scheduler of outside calls; one per operator. */
export class OutsideCalls {
  private readonly pending = new Map<string, Promise<void>>();
  private readonly queued: Job[] = [];
  private readonly busy = new Map<string, number>();
  private active = 0;

  constructor(private readonly limits: OutsideCallLimits) {}

  /**
   * Runs `call` for `key` when a slot is free, unless one for `key` is queued or running already;
   * resolves once it settled (it reports its own outcome: a failure here is its own business).
   */
  run(key: string, namespace: string, call: () => Promise<void>): Promise<void> {
    let pending = this.pending.get(key);
    if (!pending) {
      pending = new Promise<void>((settled) => this.queued.push({ key, namespace, call, settled }));
      this.pending.set(key, pending);
      this.startWhatFits();
    }
    return pending;
  }

  /** Calls queued or running. */
  get size(): number {
    return this.pending.size;
  }

  private startWhatFits(): void {
    for (let i = 0; i < this.queued.length && this.active < this.limits.concurrency; ) {
      const job = this.queued[i]!;
      const running = this.busy.get(job.namespace) ?? 0;
      if (running >= this.limits.perNamespace) {
        i++;
        continue;
      }
      this.queued.splice(i, 1);
      this.active++;
      this.busy.set(job.namespace, running + 1);
      void job
        .call()
        .catch(() => undefined)
        .finally(() => {
          this.active--;
          const left = (this.busy.get(job.namespace) ?? 1) - 1;
          if (left === 0) this.busy.delete(job.namespace);
          else this.busy.set(job.namespace, left);
          this.pending.delete(job.key);
          job.settled();
          this.startWhatFits();
        });
    }
  }
}

/** Resolves true once `done` settles, false after `ms` if it has not (the timer does not keep the process up). */
export function settledWithin(done: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  return Promise.race([done.then(() => true), late]).finally(() => clearTimeout(timer));
}
