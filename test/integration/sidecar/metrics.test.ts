/**
 * /metrics of a sidecar that has done real work, scraped the way Prometheus does: streamed and
 * plain chats (one failing over), an MCP tool call and a refusal by a limit. Every sidecar metric
 * the shipped dashboard uses is present, and the values agree with what the agent saw: tokens
 * equal the usage the provider reported, cost follows the prices, time to first token is
 * positive, the failover is counted with its reason.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { dashboardMetricsOf, missingFrom, parseExposition, total, type Sample } from '../../telemetry/exposition.js';
import { npmServer } from '../mcp/harness.js';
import { keyFile, stackDir, startStack, type Stack } from './harness.js';

const PRICES = { inputCostPerMTok: 3, outputCostPerMTok: 15 };
const STREAMED = 3;

let first: MockProvider;
let second: MockProvider;
let stack: Stack;
let samples: Sample[];
const usage = { input: 0, output: 0 };

beforeAll(async () => {
  first = await startMock('openai', { keys: ['sk-first-0123456789abcdef'] });
  second = await startMock('openai', { keys: ['sk-second-0123456789abcdef'] });
  const dir = await stackDir();
  stack = await startStack(dir, {
    version: 1,
    sandbox: { name: 'loaded' },
    providers: [
      { name: 'first', type: 'openai', baseURL: first.url, priority: 0, retries: { maxAttempts: 1, baseDelayMs: 1 }, apiKeys: [{ file: await keyFile(dir, 'first', 'sk-first-0123456789abcdef') }], models: [{ name: 'm', ...PRICES }] },
      { name: 'second', type: 'openai', baseURL: second.url, priority: 1, apiKeys: [{ file: await keyFile(dir, 'second', 'sk-second-0123456789abcdef') }], models: [{ name: 'm', ...PRICES }] },
    ],
    mcp: { backends: [{ name: 'everything', prefix: 'everything', transport: 'stdio', stdio: npmServer('mcp-server-everything', 'stdio') }] },
    limits: { requestsPerMinute: STREAMED + 1, dailyBudgetUSD: 10 },
  });
  const openai = stack.openai();
  first.script({ status: 500 });
  for (let i = 0; i < STREAMED; i++) {
    const stream = await openai.chat.completions.create({ model: 'm', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: `streamed question number ${i}` }] });
    for await (const chunk of stream) {
      if (chunk.usage) {
        usage.input += chunk.usage.prompt_tokens;
        usage.output += chunk.usage.completion_tokens;
      }
    }
  }
  const plain = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'a plain question' }] });
  usage.input += plain.usage!.prompt_tokens;
  usage.output += plain.usage!.completion_tokens;
  await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'one too many' }] }).catch(() => undefined);

  const fetchThroughSocket = ((url: string, init?: Parameters<typeof undiciFetch>[1]) => undiciFetch(url, { ...init, dispatcher: stack.dispatcher })) as unknown as typeof fetch;
  const client = new Client({ name: 'agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL('http://airlock/mcp'), { fetch: fetchThroughSocket }));
  while (!(await client.listTools()).tools.some((t) => t.name === 'everything__echo')) await new Promise((resolve) => setTimeout(resolve, 100));
  await client.callTool({ name: 'everything__echo', arguments: { message: 'hello' } });
  await client.close();

  samples = parseExposition(await (await fetch(`http://127.0.0.1:${stack.sidecar.adminPort}/metrics`)).text());
}, 60_000);

afterAll(async () => {
  await stack?.close();
  await first?.close();
  await second?.close();
});

it('has a sample of every sidecar metric the dashboard uses', async () => {
  const used = await dashboardMetricsOf('sidecar');
  expect(used.size).toBeGreaterThan(10);
  expect(missingFrom(samples, used)).toEqual([]);
});

it('counts tokens exactly as the provider reported them, and the cost from the prices', () => {
  const labels = { gen_ai_operation_name: 'chat', gen_ai_request_model: 'm', gen_ai_provider_name: 'openai' };
  expect(total(samples, 'gen_ai_client_token_usage_sum', { ...labels, gen_ai_token_type: 'input' })).toBe(usage.input);
  expect(total(samples, 'gen_ai_client_token_usage_sum', { ...labels, gen_ai_token_type: 'output' })).toBe(usage.output);
  expect(total(samples, 'gen_ai_client_token_usage_count', { ...labels, gen_ai_token_type: 'input' })).toBe(STREAMED + 1);
  const cost = (usage.input * PRICES.inputCostPerMTok + usage.output * PRICES.outputCostPerMTok) / 1e6;
  expect(total(samples, 'airlock_cost_usd_total', { model: 'm' })).toBeCloseTo(cost, 12);
  expect(total(samples, 'airlock_sandbox_spend_usd', { sandbox: 'loaded' })).toBeCloseTo(cost, 12);
  expect(total(samples, 'airlock_sandbox_budget_remaining_usd', { sandbox: 'loaded' })).toBeCloseTo(10 - cost, 12);
});

it('times every call, and the first token of each streamed call', () => {
  expect(total(samples, 'gen_ai_client_operation_time_to_first_chunk_seconds_count')).toBe(STREAMED);
  expect(total(samples, 'gen_ai_client_operation_time_to_first_chunk_seconds_sum')).toBeGreaterThan(0);
  expect(total(samples, 'gen_ai_client_operation_duration_seconds_count', { gen_ai_request_model: 'm' })).toBe(STREAMED + 2);
  expect(total(samples, 'gen_ai_client_operation_duration_seconds_count', { error_type: '429' })).toBe(1);
});

it('counts the failover with its reason, the attempts, the refusal, and answers by status', () => {
  expect(total(samples, 'airlock_failovers_total', { provider: 'first', reason: '500' })).toBe(1);
  expect(total(samples, 'airlock_provider_attempts_total', { provider: 'first', result: 'status' })).toBe(1);
  expect(total(samples, 'airlock_provider_attempts_total', { provider: 'second', result: 'ok' })).toBe(1);
  expect(total(samples, 'airlock_provider_attempts_total', { provider: 'first', result: 'ok' })).toBe(STREAMED);
  expect(total(samples, 'airlock_limit_refusals_total', { limit: 'requests' })).toBe(1);
  // The limits that refused nothing are there at 0, so an alert on increase() sees their first refusal.
  expect(samples.filter((s) => s.name === 'airlock_limit_refusals_total').map((s) => [s.labels.limit, s.value]).sort()).toEqual([['budget', 0], ['concurrency', 0], ['requests', 1], ['tokens', 0]]);
  expect(total(samples, 'airlock_model_requests_total', { status: '200' })).toBe(STREAMED + 1);
  expect(total(samples, 'airlock_model_requests_total', { status: '429' })).toBe(1);
  expect(total(samples, 'airlock_model_requests_in_flight')).toBe(0);
});

it('shows provider breakers and keys, the MCP tool call and the backend state', () => {
  expect(total(samples, 'airlock_provider_circuit_state', { provider: 'first', state: 'closed' })).toBe(1);
  expect(total(samples, 'airlock_provider_keys', { provider: 'second', state: 'healthy' })).toBe(1);
  expect(total(samples, 'airlock_mcp_tool_calls_total', { backend: 'everything', tool: 'everything__echo', result: 'ok' })).toBe(1);
  expect(total(samples, 'airlock_mcp_tool_call_duration_seconds_count', { tool: 'everything__echo' })).toBe(1);
  expect(total(samples, 'airlock_mcp_backend_state', { backend: 'everything', state: 'ready' })).toBe(1);
  // No key value, no prompt in any label.
  const text = JSON.stringify(samples);
  for (const secret of ['sk-first-0123456789abcdef', 'sk-second-0123456789abcdef', 'streamed question']) expect(text).not.toContain(secret);
});
