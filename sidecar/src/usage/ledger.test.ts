import { expect, it } from 'vitest';
import { UsageLedger } from './ledger.js';

it('counts calls by model in name order, starts a UTC day from zero, and gives snapshots that later calls do not change', () => {
  let now = Date.parse('2026-11-26T23:59:59.000Z');
  const ledger = new UsageLedger(() => now);
  ledger.record('gpt-b', { input: 10, output: 2, costUSD: 0.5 });
  ledger.record('gpt-a', { input: 1, output: 1, costUSD: 0.25 });
  ledger.record('gpt-b', { input: 5, output: 3, costUSD: 0.5 });
  const first = ledger.snapshot();
  expect(first).toMatchObject({
    day: '2026-11-26',
    requests: 3,
    inputTokens: 16,
    outputTokens: 6,
    spentUSD: 1.25,
    byModel: [
      { model: 'gpt-a', requests: 1, inputTokens: 1, outputTokens: 1, spentUSD: 0.25 },
      { model: 'gpt-b', requests: 2, inputTokens: 15, outputTokens: 5, spentUSD: 1 },
    ],
  });
  ledger.record('gpt-a', { input: 1, output: 1, costUSD: 0 });
  expect(first.byModel[0]!.requests).toBe(1);

  now += 1000;
  expect(ledger.snapshot()).toMatchObject({ day: '2026-11-27', requests: 0, byModel: [] });
  ledger.record('gpt-a', { input: 2, output: 0, costUSD: 0 });
  // A clock set back a day is a new day too.
  now -= 86_400_000;
  expect(ledger.snapshot()).toMatchObject({ day: '2026-11-26', requests: 0, byModel: [] });
});
