import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../log/logger.js';
import { SecretRegistry } from '../log/redact.js';
import { Limiter, type LimitRefusal } from '../router/limits.js';
import { SandboxUsage } from './sync.js';
import type { SandboxUsageReport } from './wire.js';

/** A call's cost: exact in binary, so a pod's even part of the budget is a whole number of calls. */
const CALL_USD = 0.125;
const BUDGET_USD = 1;

/** What the stand-in operator answers next; undefined: it is unreachable (503). */
let answer: SandboxUsageReport | undefined;
let server: Server;
let url: string;
let now: number;
let limiter: Limiter;
let usage: SandboxUsage;

const totals = (spentUSD: number) => ({ requests: Math.round(spentUSD / CALL_USD), inputTokens: 0, outputTokens: 0, spentUSD, byModel: [] });

/** Calls this pod admits one after the other, each spending CALL_USD, and the refusal that stopped them. */
function spendAll(): { admitted: number; refusal: LimitRefusal | undefined } {
  for (let admitted = 0; admitted < 100; admitted++) {
    const refusal = limiter.tryStart('sandbox s');
    if (refusal) return { admitted, refusal };
    limiter.finish(10, CALL_USD);
  }
  return { admitted: 100, refusal: undefined };
}

beforeAll(async () => {
  server = createServer((_req, res) => {
    if (!answer) return res.writeHead(503).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/usage/agents/shared`;
});

afterAll(async () => {
  usage?.stop();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  usage?.stop();
  answer = undefined;
  now = Date.parse('2026-11-27T23:59:00Z');
  limiter = new Limiter({ dailyBudgetUSD: BUDGET_USD, maxConcurrent: 4 }, () => now, true);
  usage = new SandboxUsage({
    sandbox: 'shared',
    endpoint: () => ({ url, intervalMs: 5_000 }),
    limiter: () => limiter,
    dailyBudgetUSD: () => BUDGET_USD,
    log: createLogger({ level: 'silent', destination: new Writable({ write: (_chunk, _encoding, done) => done() }) }),
    secrets: new SecretRegistry(),
    now: () => now,
  });
});

// rt17 D1: at 00:00 UTC every pod got the whole daily budget (and the unsplit per-minute and
// concurrency limits) until the operator had counted the new day, N pods N budgets.
describe('a sandbox of two pods across UTC midnight', () => {
  it('holds half the new day on the pod whose operator is unreachable after midnight', async () => {
    answer = { day: '2026-11-27', pods: 2, total: totals(0) };
    expect(await usage.sync()).toBe(true);
    expect(spendAll().admitted).toBe(4);
    answer = undefined;
    now = Date.parse('2026-11-28T00:00:01Z');
    expect(await usage.sync()).toBe(false);
    const { admitted, refusal } = spendAll();
    expect(admitted).toBe(4);
    expect(refusal).toMatchObject({ limit: 'budget', message: 'sandbox s spent its daily budget of 1 USD' });
  });

  it('splits the concurrency limit between the pods on the new day as on the old', async () => {
    answer = { day: '2026-11-27', pods: 2, total: totals(0) };
    await usage.sync();
    now = Date.parse('2026-11-28T00:00:01Z');
    expect(limiter.tryStart('sandbox s')).toBeUndefined();
    expect(limiter.tryStart('sandbox s')).toBeUndefined();
    expect(limiter.tryStart('sandbox s')?.message).toBe('sandbox s allows 2 requests at once (its share across 2 pods)');
  });

  it('holds half the new day when the operator answers it before it has counted it (no pods, nothing spent)', async () => {
    answer = { day: '2026-11-27', pods: 2, total: totals(0.5), counted: totals(0.25) };
    await usage.sync();
    now = Date.parse('2026-11-28T00:00:01Z');
    answer = { day: '2026-11-28', pods: 0, total: totals(0) };
    expect(await usage.sync()).toBe(true);
    expect(spendAll().admitted).toBe(4);
    // Its count of the new day then shares what is left: the other pod spent two calls' worth.
    answer = { day: '2026-11-28', pods: 2, total: totals(0.75), counted: totals(0.5) };
    await usage.sync();
    expect(spendAll().admitted).toBe(1);
  });

  it("holds half the new day while the operator's clock is still on the old day", async () => {
    answer = { day: '2026-11-27', pods: 2, total: totals(0) };
    await usage.sync();
    now = Date.parse('2026-11-28T00:00:01Z');
    answer = { day: '2026-11-27', pods: 2, total: totals(0.9), counted: totals(0.4) };
    expect(await usage.sync()).toBe(true);
    expect(spendAll().admitted).toBe(4);
  });

  it("keeps the old day's share while the operator's clock is already on the new day, then holds half the new day", async () => {
    for (let i = 0; i < 4; i++) {
      expect(limiter.tryStart('sandbox s')).toBeUndefined();
      limiter.finish(10, CALL_USD);
    }
    // The other pod spent 0.25: of the 0.25 left each pod may spend half.
    answer = { day: '2026-11-27', pods: 2, total: totals(0.75), counted: totals(0.5) };
    await usage.sync();
    expect(spendAll().admitted).toBe(1);
    now = Date.parse('2026-11-27T23:59:59Z');
    answer = { day: '2026-11-28', pods: 2, total: totals(0) };
    expect(await usage.sync()).toBe(true);
    expect(spendAll()).toMatchObject({ admitted: 0, refusal: { limit: 'budget' } });
    now = Date.parse('2026-11-28T00:00:01Z');
    expect(spendAll().admitted).toBe(4);
  });

  it("keeps the day's share when the operator answers that day as not counted (a replica whose clock is behind the leader's)", async () => {
    // This pod spent two calls' worth, the other pod the rest of the budget.
    for (let i = 0; i < 2; i++) limiter.finish(10, CALL_USD);
    answer = { day: '2026-11-27', pods: 2, total: totals(1), counted: totals(0.25) };
    await usage.sync();
    expect(spendAll().admitted).toBe(0);
    answer = { day: '2026-11-27', pods: 0, total: totals(0) };
    expect(await usage.sync()).toBe(true);
    expect(spendAll()).toMatchObject({ admitted: 0, refusal: { limit: 'budget' } });
  });

  it('gives a pod that never heard from the operator the whole budget, as before', () => {
    now = Date.parse('2026-11-28T00:00:01Z');
    expect(spendAll().admitted).toBe(8);
  });
});
