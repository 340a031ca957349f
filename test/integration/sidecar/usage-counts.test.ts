/**
 * A provider's usage counts only as whole, non-negative token counts: an OpenAI-compatible server
 * (self-hosted, buggy or hostile) that writes them as strings, negative, fractional or absurd, or
 * leaves the output out while it answers, gets its call estimated (as one without usage), and the
 * pod's usage report stays one the operator takes (sidecar/src/usage/wire.ts SidecarReport).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SidecarReport } from '../../../sidecar/src/usage/wire.js';
import { modelUsage, stackDir, startStack } from './harness.js';

/** The answer's text: 4,000 characters, ~1,000 tokens by the sidecar's estimate. */
const TEXT = 'x'.repeat(4000);
let server: Server;
let baseURL: string;
/** The usage object the server writes, and whether a stream sends it on its content chunk instead of its own last chunk. */
let usage: unknown;
let onContent = false;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const { model, stream } = JSON.parse(body) as { model: string; stream?: boolean };
      const head = { id: 'chatcmpl-1', created: 1, model };
      if (!stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ...head, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: TEXT }, finish_reason: 'stop' }], usage }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const chunk = (fields: object) => res.write(`data: ${JSON.stringify({ ...head, object: 'chat.completion.chunk', ...fields })}\n\n`);
      chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: TEXT }, finish_reason: null }], ...(onContent ? { usage } : {}) });
      chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
      if (!onContent) chunk({ choices: [], usage });
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Two calls answered with `reported` as their usage; what the sidecar counted, and whether the operator takes its report. */
async function counted(reported: unknown, stream: boolean, sentOnContent = false) {
  usage = reported;
  onContent = sentOnContent;
  const dir = await stackDir();
  const s = await startStack(dir, {
    version: 1,
    sandbox: { name: 'counts' },
    providers: [{ name: 'compat', type: 'openai-compatible', baseURL, models: [{ name: 'm', inputCostPerMTok: 1_000, outputCostPerMTok: 1_000 }] }],
    limits: { dailyBudgetUSD: 1_000 },
    listen: { admin: { host: '127.0.0.1', port: 0 } },
  });
  try {
    for (let i = 0; i < 2; i++) {
      if (stream) for await (const _ of await s.openai().chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] })) void _;
      else expect((await s.openai().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })).choices[0]!.message.content).toBe(TEXT);
    }
    const report = SidecarReport.safeParse(await (await fetch(`http://127.0.0.1:${s.sidecar.adminPort}/usage`)).json());
    const view = (await (await s.fetch('/v1/usage')).json()) as { spentUSD: number };
    return { ...(await modelUsage(s, 'm')), spentUSD: view.spentUSD, reportTaken: report.success };
  } finally {
    await s.close();
  }
}

it.each([false, true])('counts whole usage as reported (stream: %s)', async (stream) => {
  expect(await counted({ prompt_tokens: 10, completion_tokens: 1000, total_tokens: 1010 }, stream)).toMatchObject({ requests: 2, inputTokens: 20, outputTokens: 2000, reportTaken: true });
});

it.each([
  // Before: counted as 0 tokens and $0.
  ['strings', { prompt_tokens: '10', completion_tokens: '1000', total_tokens: '1010' }],
  // Before: the ledger at -2,000,000 tokens and -$2, and a report the operator refused all day.
  ['negative', { prompt_tokens: -1_000_000, completion_tokens: 5, total_tokens: 5 }],
  // Before: a report the operator refused (not a safe integer).
  ['absurd', { prompt_tokens: 1e17, completion_tokens: 1 }],
  ['not numbers', { prompt_tokens: null, completion_tokens: { n: 1000 } }],
] as const)('estimates a call whose usage counts are %s, and the operator takes the report', async (_what, reported) => {
  for (const stream of [false, true]) {
    const seen = await counted(reported, stream);
    expect(seen).toMatchObject({ requests: 2, reportTaken: true });
    // The estimate: the answer's 4,000 characters at four a token, twice; the input from the body.
    expect(seen.outputTokens).toBeGreaterThanOrEqual(2000);
    expect(seen.inputTokens).toBeGreaterThan(0);
    expect(seen.inputTokens).toBeLessThan(1000);
    expect(seen.spentUSD).toBeGreaterThan(0);
  }
});

it.each([
  // Before (ver18): the string input counted 0, the negative cache count took 1,000 tokens off the input.
  ['a string input count', { input_tokens: '10', output_tokens: 1000 }],
  ['a negative cache count', { input_tokens: 2000, output_tokens: 1000, cache_creation_input_tokens: -1000 }],
] as const)('estimates an Anthropic-style usage with %s', async (_what, reported) => {
  const seen = await counted(reported, false);
  expect(seen).toMatchObject({ requests: 2, reportTaken: true });
  expect(seen.outputTokens).toBeGreaterThanOrEqual(2000);
  // The body's estimate, not 0 (a string) nor 2 x (2,000 - 1,000).
  expect(seen.inputTokens).toBeGreaterThan(0);
  expect(seen.inputTokens).toBeLessThan(1000);
});

it('rounds fractional counts up, so the operator takes the report (before: refused)', async () => {
  expect(await counted({ prompt_tokens: 10.5, completion_tokens: 1000.25 }, false)).toMatchObject({ inputTokens: 22, outputTokens: 2002, reportTaken: true });
});

it.each([
  // Before: 0 output though 4,000 characters were answered.
  ['a usage without completion_tokens', { prompt_tokens: 10 }, false, false],
  ['a stream whose only usage comes with its first content', { prompt_tokens: 10, completion_tokens: 0 }, true, true],
] as const)('estimates the output of %s from the answer', async (_what, reported, stream, sentOnContent) => {
  const seen = await counted(reported, stream, sentOnContent);
  expect(seen).toMatchObject({ requests: 2, inputTokens: 20, reportTaken: true });
  expect(seen.outputTokens).toBeGreaterThanOrEqual(2000);
});

/** What the sidecar counts for TEXT (ingress/estimate.ts textTokens): a run of 4,000 letters is 4 tokens for its first 12, then one per 2. */
const TEXT_TOKENS = 4 + (4000 - 12) / 2;

it.each([
  // Parsed (before: 4,202, the JSON's keys, punctuation, id and model counted as output).
  ['without any usage', undefined],
  // Passed through unread, its usage read from its tail, and parsed only for this estimate (before: 4,236, the usage object counted too).
  ['with a usage without completion_tokens', { prompt_tokens: 10 }],
] as const)('estimates the output of a plain answer %s by its text, not its JSON', async (_what, reported) => {
  const seen = await counted(reported, false);
  expect(seen).toMatchObject({ requests: 2, reportTaken: true });
  expect(seen.outputTokens).toBe(2 * TEXT_TOKENS);
});
