/**
 * Token usage in traces and metrics is what the provider reported (red team 22): an answer with no
 * usage (an OpenAI-compatible server that reports none) is estimated by the sidecar, about 4
 * characters a token, and that estimate was on the span as `gen_ai.usage.*` and in
 * `gen_ai_client_token_usage`, as if reported. The GenAI conventions say not to report counts
 * that were not obtained: the estimate is now `airlock.usage.estimated_*` on the span, and no point
 * of the histogram. The upstream is a bare server: no mock would leave usage out by accident.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CollectedSpan, OtlpCollector } from '../../mocks/otlp-collector.js';
import { tracedOpenAi, withCollector } from './harness.js';

const REPORTED = { prompt_tokens: 7, completion_tokens: 11, total_tokens: 18 };

let upstream: Server;
let collector: OtlpCollector;
let spans: CollectedSpan[];
let metrics: { afterEstimated: string; afterReported: string };

beforeAll(async () => {
  // Usage only when the prompt asks for it.
  upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const answer = { id: 'chatcmpl-u', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'a'.repeat(400) }, finish_reason: 'stop' }] };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body.includes('reported') ? { ...answer, usage: REPORTED } : answer));
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
  ({ collector, spans, result: metrics } = await withCollector(tracedOpenAi('token-usage', url, 'sk-token-usage-key-0123456789'), async (stack) => {
    const openai = stack.openai();
    const scrape = async () => (await fetch(`http://127.0.0.1:${stack.sidecar.adminPort}/metrics`)).text();
    await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'estimated, please' }] });
    const afterEstimated = await scrape();
    await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'reported, please' }] });
    return { afterEstimated, afterReported: await scrape() };
  }));
}, 60_000);

afterAll(async () => {
  await new Promise((resolve) => upstream?.close(resolve));
  await collector?.close();
});

const points = (text: string) => Number(/gen_ai_client_token_usage_count\{[^}]*gen_ai_token_type="output"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);

it('puts an estimate on the span as estimated, not as the GenAI usage attributes', () => {
  const calls = spans.filter((s) => s.name === 'chat m');
  expect(calls).toHaveLength(2);
  const estimated = calls.filter((s) => s.attributes['gen_ai.usage.output_tokens'] === undefined);
  expect(estimated).toHaveLength(1);
  expect(estimated[0]!.attributes['gen_ai.usage.input_tokens']).toBeUndefined();
  expect(estimated[0]!.attributes['airlock.usage.estimated_output_tokens']).toBeGreaterThan(0);
  expect(estimated[0]!.attributes['airlock.usage.estimated_input_tokens']).toBeGreaterThan(0);
});

it('puts reported usage on the span and in the histogram, and an estimate in neither', () => {
  const withReported = spans.filter((s) => s.name === 'chat m' && s.attributes['gen_ai.usage.output_tokens'] !== undefined);
  expect(withReported).toHaveLength(1);
  expect(withReported[0]!.attributes).toMatchObject({ 'gen_ai.usage.input_tokens': REPORTED.prompt_tokens, 'gen_ai.usage.output_tokens': REPORTED.completion_tokens });
  expect(withReported[0]!.attributes['airlock.usage.estimated_output_tokens']).toBeUndefined();
  expect(points(metrics.afterEstimated)).toBe(0);
  expect(points(metrics.afterReported)).toBe(1);
  expect(metrics.afterEstimated).toMatch(/airlock_usage_estimated_total\{provider="upstream",model="m"\} 1/);
});
