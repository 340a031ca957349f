import { describe, expect, it } from 'vitest';
import type { InstanceUsage } from '@airlock/sidecar/usage';
import { SandboxUsageStatus } from '../api/agent-sandbox.js';
import { mergeUsage } from './merge.js';
import { reportFor } from './report.js';

const day = '2026-11-26';
const now = new Date(`${day}T12:00:00Z`);
const usage = (instance: string, spentUSD: number, requests = 1, d = day): InstanceUsage => ({
  instance,
  day: d,
  requests,
  inputTokens: 10 * requests,
  outputTokens: 20 * requests,
  spentUSD,
  byModel: [{ model: 'm', requests, inputTokens: 10 * requests, outputTokens: 20 * requests, spentUSD }],
});
const round = (reports: { pod: string; usage: InstanceUsage }[], livePods: string[], dailyBudgetUSD?: number) => ({ day, reports, livePods: new Set(livePods), sharing: livePods.length, dailyBudgetUSD, now });

describe('mergeUsage', () => {
  it('sums the pods of a sandbox, by model, with the budget left', () => {
    const status = mergeUsage(undefined, round([{ pod: 'a', usage: usage('instance-a1', 1.5, 3) }, { pod: 'b', usage: usage('instance-b1', 0.5, 1) }], ['a', 'b'], 5));
    expect(status).toMatchObject({ day, spentUSD: 2, requests: 4, inputTokens: 40, outputTokens: 80, budgetRemainingUSD: 3, byModel: [{ model: 'm', requests: 4, spentUSD: 2 }] });
    expect(status.pods).toHaveLength(2);
  });

  it('loses nothing when a sidecar restarts: the old instance moves to retired and the new one counts from zero', () => {
    const before = mergeUsage(undefined, round([{ pod: 'a', usage: usage('instance-a1', 2, 2) }], ['a']));
    const after = mergeUsage(before, round([{ pod: 'a', usage: usage('instance-a2', 0.25, 1) }], ['a']));
    expect(after.spentUSD).toBe(2.25);
    expect(after.requests).toBe(3);
    expect(after.retired).toMatchObject({ spentUSD: 2, requests: 2 });
    expect(after.pods!.map((p) => p.instance)).toEqual(['instance-a2']);
  });

  it('keeps the last report of a pod that did not answer this round, and retires a deleted pod', () => {
    const first = mergeUsage(undefined, round([{ pod: 'a', usage: usage('instance-a1', 1) }, { pod: 'b', usage: usage('instance-b1', 1) }], ['a', 'b']));
    const silent = mergeUsage(first, round([{ pod: 'a', usage: usage('instance-a1', 1.5) }], ['a', 'b']));
    expect(silent.spentUSD).toBe(2.5);
    expect(silent.pods).toHaveLength(2);
    const deleted = mergeUsage(silent, round([{ pod: 'a', usage: usage('instance-a1', 1.5) }], ['a']));
    expect(deleted.spentUSD).toBe(2.5);
    expect(deleted.pods).toHaveLength(1);
    expect(deleted.retired!.spentUSD).toBe(1);
  });

  it('starts a new UTC day from zero and ignores reports of another day', () => {
    const yesterday = mergeUsage(undefined, { ...round([{ pod: 'a', usage: usage('instance-a1', 3, 1, '2026-11-25') }], ['a']), day: '2026-11-25' });
    const today = mergeUsage(yesterday, round([{ pod: 'a', usage: usage('instance-a1', 3, 1, '2026-11-25') }], ['a'], 10));
    expect(today).toMatchObject({ day, spentUSD: 0, requests: 0, budgetRemainingUSD: 10, pods: [] });
  });

  it('keeps a status the apiserver takes when the pods together used more models than it lists (each pod chooses its own)', () => {
    const many = (instance: string, from: number): InstanceUsage => {
      const byModel = Array.from({ length: 600 }, (_, i) => ({ model: `m-${from + i}`, requests: 1, inputTokens: 1, outputTokens: 1, spentUSD: 0.001 }));
      return { instance, day, requests: 600, inputTokens: 600, outputTokens: 600, spentUSD: 0.6, byModel };
    };
    const status = mergeUsage(undefined, round([{ pod: 'a', usage: many('instance-a1', 0) }, { pod: 'b', usage: many('instance-b1', 600) }], ['a', 'b']));
    expect(status.byModel).toHaveLength(1000);
    expect(status.requests).toBe(1200);
    expect(status.spentUSD).toBe(1.2);
    expect(status.byModel.find((m) => m.model === '(other models)')?.requests).toBe(201);
    expect(() => SandboxUsageStatus.parse(status)).not.toThrow();
  });

  it("takes no report that lowers an instance's counts (an agent answering on its pod's admin port without the firewall): its last one stands", () => {
    const before = mergeUsage(undefined, round([{ pod: 'a', usage: usage('instance-a1', 4, 8) }], ['a'], 5));
    const lowered = mergeUsage(before, round([{ pod: 'a', usage: usage('instance-a1', 0.5, 1) }], ['a'], 5));
    expect(lowered).toMatchObject({ spentUSD: 4, requests: 8, budgetRemainingUSD: 1 });
    expect(lowered.retired).toMatchObject({ spentUSD: 0, requests: 0 });
    // Counts that grew are taken as ever.
    expect(mergeUsage(lowered, round([{ pod: 'a', usage: usage('instance-a1', 4.5, 9) }], ['a'], 5))).toMatchObject({ spentUSD: 4.5, requests: 9 });
  });

  it("takes no report that names another pod's instance (an agent answering on its pod's admin port without the firewall)", () => {
    const before = mergeUsage(undefined, round([{ pod: 'a', usage: usage('instance-a1', 2, 2) }, { pod: 'b', usage: usage('instance-b1', 3, 3) }], ['a', 'b']));
    // Pod b's agent answers with a's instance and nothing spent; a does not answer this round, then does.
    const spoofed = mergeUsage(before, round([{ pod: 'b', usage: usage('instance-a1', 0, 0) }, { pod: 'b', usage: usage('instance-b1', 3, 3) }], ['a', 'b']));
    expect(spoofed.spentUSD).toBe(5);
    const both = mergeUsage(before, round([{ pod: 'b', usage: usage('instance-a1', 0, 0) }, { pod: 'a', usage: usage('instance-a1', 2.5, 3) }], ['a', 'b']));
    expect(both.spentUSD).toBe(5.5);
    expect(both.pods?.find((p) => p.instance === 'instance-a1')?.pod).toBe('a');
    // In one round, the first pod to name a new instance owns it.
    const fresh = mergeUsage(undefined, round([{ pod: 'a', usage: usage('instance-a1', 1, 1) }, { pod: 'b', usage: usage('instance-a1', 0, 0) }], ['a', 'b']));
    expect(fresh.spentUSD).toBe(1);
  });
});

describe('reportFor', () => {
  it("tells a sidecar the sandbox's totals, the pods, and what of them was counted from it", () => {
    const status = mergeUsage(undefined, round([{ pod: 'a', usage: usage('instance-a1', 1) }, { pod: 'b', usage: usage('instance-b1', 2) }], ['a', 'b']));
    expect(reportFor(status, day, 'instance-b1')).toMatchObject({ day, pods: 2, total: { spentUSD: 3 }, counted: { spentUSD: 2 } });
    expect(reportFor(status, day, 'instance-new').counted).toBeUndefined();
  });

  it('tells the day it last counted, with its pods, until it has counted today (rt17: a sidecar started at midnight got the whole budget)', () => {
    const status = mergeUsage(undefined, round([{ pod: 'a', usage: usage('instance-a1', 1) }, { pod: 'b', usage: usage('instance-b1', 2) }], ['a', 'b']));
    expect(reportFor(status, '2026-11-27', 'instance-b1')).toMatchObject({ day, pods: 2, total: { spentUSD: 3 }, counted: { spentUSD: 2 } });
    expect(reportFor(undefined, '2026-11-27', 'instance-b1')).toEqual({ day: '2026-11-27', pods: 0, total: { requests: 0, inputTokens: 0, outputTokens: 0, spentUSD: 0, byModel: [] } });
  });
});

describe("the pods a sandbox's limits are shared among", () => {
  it('are the pods whose sidecar runs, not every pod that exists (pending ones cannot spend)', () => {
    const status = mergeUsage(undefined, { ...round([], ['a', 'b', 'c', 'd', 'e']), sharing: 1 });
    expect(status.podCount).toBe(1);
  });
});
