/**
 * This sidecar's usage today, by model: what it reports to the operator and counts against the
 * sandbox's share. A new UTC day starts from zero; a new process is a new instance.
 */
import { randomUUID } from 'node:crypto';
import { totalsByModel, UtcDayClock, type InstanceUsage, type ModelUsage } from './wire.js';

export class UsageLedger {
  /** Identifies this process to the operator. */
  readonly instance = randomUUID();
  private day = '';
  private readonly clock: UtcDayClock;
  /**
   * Counted in place, one entry per model: `record` runs on every call, so it allocates nothing
   * for a model already seen; `snapshot` (the usage sync, GET /usage) builds the report.
   */
  private byModel = new Map<string, ModelUsage>();

  constructor(now: () => number = Date.now) {
    this.clock = new UtcDayClock(now);
  }

  /** Counts one call of `model` and what it used. */
  record(model: string, usage: { input: number; output: number; costUSD: number }): void {
    this.rollover();
    let m = this.byModel.get(model);
    if (!m) this.byModel.set(model, (m = { model, requests: 0, inputTokens: 0, outputTokens: 0, spentUSD: 0 }));
    m.requests += 1;
    m.inputTokens += usage.input;
    m.outputTokens += usage.output;
    m.spentUSD += usage.costUSD;
  }

  /** Today's counters: by model in name order (at most MAX_MODELS, see totalsByModel), the totals their sums. */
  snapshot(): InstanceUsage {
    this.rollover();
    return { instance: this.instance, day: this.day, ...totalsByModel([...this.byModel.values()].map((m) => ({ ...m }))) };
  }

  private rollover(): void {
    const today = this.clock.today();
    if (today !== this.day) {
      this.day = today;
      this.byModel = new Map();
    }
  }
}
