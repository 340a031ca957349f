/**
 * This sidecar's usage today, by model: what it reports to the operator and counts against the
 * sandbox's share. A new UTC day starts from zero; a new process is a new instance.
 */
import { randomUUID } from 'node:crypto';
import { combine, emptyTotals, utcDay, type InstanceUsage, type UsageTotals } from './wire.js';

export class UsageLedger {
  /** Identifies this process to the operator. */
  readonly instance = randomUUID();
  private day = '';
  private totals: UsageTotals = emptyTotals();

  constructor(private readonly now: () => number = Date.now) {}

  /** Counts one call of `model` and what it used. */
  record(model: string, usage: { input: number; output: number; costUSD: number }): void {
    this.rollover();
    this.totals = combine(this.totals, { requests: 1, inputTokens: usage.input, outputTokens: usage.output, spentUSD: usage.costUSD, byModel: [{ model, requests: 1, inputTokens: usage.input, outputTokens: usage.output, spentUSD: usage.costUSD }] });
  }

  /** Today's counters. */
  snapshot(): InstanceUsage {
    this.rollover();
    return { instance: this.instance, day: this.day, ...this.totals };
  }

  private rollover(): void {
    const today = utcDay(this.now());
    if (today !== this.day) {
      this.day = today;
      this.totals = emptyTotals();
    }
  }
}
