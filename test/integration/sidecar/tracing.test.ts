/**
 * Traces as a platform team sees them in its collector: an agent in a trace of its own streams a
 * chat whose first provider fails (one failover) and calls an MCP tool. The collector (in this
 * process, decoding OTLP protobuf) receives one model-call span with the GenAI attributes, a
 * child per upstream attempt, and a tool span, each call the root of a trace of the sidecar's own
 * linked to the agent's span; the provider receives the attempt's traceparent. No key, prompt, completion or tool argument is in any export.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import type { OtlpCollector } from '../../mocks/otlp-collector.js';
import { npmServer } from '../mcp/harness.js';
import { agentTraceContext, keyFile, mcpClient, withCollector, type Traced } from './harness.js';

const FIRST_KEY = 'sk-first-provider-key-0123456789';
const SECOND_KEY = 'sk-second-provider-key-9876543210';
const COLLECTOR_TOKEN = 'collector-token-abcdef0123456789';
const PROMPT = 'the secret plan is to paint the shed purple';
const TOOL_ARGUMENT = 'a tool argument nobody may trace';

const agent = agentTraceContext();

let collector: OtlpCollector;
let first: MockProvider;
let second: MockProvider;
let streamed: { text: string; usage: { prompt_tokens: number; completion_tokens: number } | undefined };
let byName: Traced<unknown>['named'];
let logLines: string[] = [];
let plain: { id: string; model: string };

beforeAll(async () => {
  first = await startMock('openai', { keys: [FIRST_KEY] });
  second = await startMock('openai', { keys: [SECOND_KEY] });
  ({ collector, named: byName, result: streamed } = await withCollector(
    async (dir, otlp) => ({
      version: 1,
      sandbox: { name: 'traced' },
      providers: [
        { name: 'first', type: 'openai', baseURL: first.url, priority: 0, retries: { maxAttempts: 1, baseDelayMs: 1 }, apiKeys: [{ file: await keyFile(dir, 'first', FIRST_KEY) }], models: [{ name: 'm' }] },
        { name: 'second', type: 'openai', baseURL: second.url, priority: 1, apiKeys: [{ file: await keyFile(dir, 'second', SECOND_KEY) }], models: [{ name: 'm', inputCostPerMTok: 1, outputCostPerMTok: 2 }, { name: 'p' }] },
      ],
      mcp: { backends: [{ name: 'everything', prefix: 'everything', transport: 'stdio', stdio: npmServer('mcp-server-everything', 'stdio') }] },
      telemetry: { otlp: { ...otlp, headers: [{ name: 'x-collector-token', file: await keyFile(dir, 'otlp-token', COLLECTOR_TOKEN) }] } },
    }),
    async (stack) => {
      first.script({ status: 500 });
      const stream = await stack.openai().chat.completions.create(
        { model: 'm', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: PROMPT }] },
        { headers: { traceparent: agent.traceparent } },
      );
      const seen: typeof streamed = { text: '', usage: undefined };
      for await (const chunk of stream) {
        seen.text += chunk.choices[0]?.delta.content ?? '';
        if (chunk.usage) seen.usage = chunk.usage;
      }
      // Whole and passed through as the provider sent it (no translation, no parse).
      const answer = await stack.openai().chat.completions.create({ model: 'p', messages: [{ role: 'user', content: 'hello' }] }, { headers: { traceparent: agent.traceparent } });
      plain = { id: answer.id, model: answer.model };
      await stack.openai().responses.create({ model: 'p', input: 'hello' }, { headers: { traceparent: agent.traceparent } });
      const client = await mcpClient(stack, { traceparent: agent.traceparent });
      // The backend starts in the background; wait until its tools are listed (expect.poll is for tests, not hooks).
      while (!(await client.listTools()).tools.some((t) => t.name === 'everything__echo')) await new Promise((resolve) => setTimeout(resolve, 100));
      await client.callTool({ name: 'everything__echo', arguments: { message: TOOL_ARGUMENT } });
      await client.close();
      logLines = [...stack.logs];
      return seen;
    },
  ));
}, 60_000);

afterAll(async () => {
  await first?.close();
  await second?.close();
  await collector?.close();
});

it('exports a model-call span in the agent trace with the GenAI attributes and the usage the provider reported', () => {
  expect(streamed.text.length).toBeGreaterThan(0);
  const [call, ...more] = byName('chat m');
  expect(more).toEqual([]);
  expect(call).toMatchObject({ parentSpanId: '', kind: 3, links: [{ traceId: agent.traceId, spanId: agent.spanId, attributes: { 'airlock.link': 'agent' } }] });
  expect(call!.traceId).not.toBe(agent.traceId);
  expect(call!.attributes).toMatchObject({
    'gen_ai.operation.name': 'chat',
    'gen_ai.request.model': 'm',
    'gen_ai.provider.name': 'openai',
    'gen_ai.usage.input_tokens': streamed.usage!.prompt_tokens,
    'gen_ai.usage.output_tokens': streamed.usage!.completion_tokens,
    'airlock.provider': 'second',
    'http.response.status_code': 200,
  });
  expect(call!.attributes['gen_ai.response.finish_reasons']).toEqual(['stop']);
  expect(typeof call!.attributes['gen_ai.response.model']).toBe('string');
  expect(call!.events).toContain('gen_ai.first_chunk');
  expect(call!.resource).toMatchObject({ 'service.name': 'airlock-sidecar', 'airlock.sandbox': 'traced' });
});

it("names the provider's answer and model on a call passed through whole (the body is not parsed there)", () => {
  const [call, ...more] = byName('chat p').filter((span) => span.attributes['airlock.api'] !== 'responses');
  expect(more).toEqual([]);
  expect(call!.attributes).toMatchObject({ 'gen_ai.request.model': 'p', 'gen_ai.response.id': plain.id, 'gen_ai.response.model': plain.model, 'airlock.provider': 'second' });
  expect(plain.id).toMatch(/^chatcmpl-/);
});

it('names a Responses API call a chat, as the GenAI conventions do, with the API it came in on', () => {
  const responses = byName('chat p').filter((span) => span.attributes['airlock.api'] === 'responses');
  expect(responses).toHaveLength(1);
  expect(responses[0]!.attributes).toMatchObject({ 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'p', 'http.response.status_code': 200 });
});

it('exports one child span per upstream attempt: the failed one with its status, the failover with its reason, keys by index', () => {
  const call = byName('chat m')[0]!;
  const failed = byName('attempt first');
  const served = byName('attempt second').filter((span) => span.parentSpanId === call.spanId);
  expect(failed).toHaveLength(1);
  expect(served).toHaveLength(1);
  expect(failed[0]).toMatchObject({ parentSpanId: call.spanId, traceId: call.traceId, statusCode: 2, links: [] });
  expect(failed[0]!.attributes).toMatchObject({ 'airlock.key.index': 0, 'http.response.status_code': 500, 'error.type': '500', 'airlock.attempt': 1 });
  expect(served[0]).toMatchObject({ parentSpanId: call.spanId, statusCode: 0 });
  expect(served[0]!.attributes).toMatchObject({ 'airlock.key.index': 0, 'http.response.status_code': 200, 'airlock.attempt': 2, 'airlock.failover.from': 'first', 'airlock.failover.reason': '500' });
});

it("propagates each attempt's trace context to the provider", () => {
  const served = byName('attempt second').find((span) => span.parentSpanId === byName('chat m')[0]!.spanId)!;
  const call = byName('chat m')[0]!;
  expect(second.received[0]!.headers.traceparent).toBe(`00-${call.traceId}-${served.spanId}-01`);
  const failed = byName('attempt first')[0]!;
  expect(first.received[0]!.headers.traceparent).toBe(`00-${call.traceId}-${failed.spanId}-01`);
});

it("exports a span per MCP tool call with the tool name and backend, linked to the agent's span", () => {
  const [tool] = byName('execute_tool everything__echo');
  expect(tool).toMatchObject({ parentSpanId: '', links: [{ traceId: agent.traceId, spanId: agent.spanId }] });
  expect(tool!.traceId).not.toBe(agent.traceId);
  expect(tool!.attributes).toMatchObject({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'everything__echo', 'airlock.mcp.backend': 'everything' });
});

it('never exports a key, the prompt, the completion or a tool argument, and sends the collector its header from the file', () => {
  const everything = Buffer.concat(collector.rawBodies).toString('latin1');
  for (const secret of [FIRST_KEY, SECOND_KEY, COLLECTOR_TOKEN, PROMPT, TOOL_ARGUMENT, streamed.text]) expect(everything).not.toContain(secret);
  expect(JSON.stringify(collector.spans)).not.toContain('purple');
  expect(collector.requests.every((h) => h['x-collector-token'] === COLLECTOR_TOKEN)).toBe(true);
});

it("puts the call's trace id on the log lines of its calls, so a log line leads to its trace", () => {
  const lines = logLines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const ofCall = lines.filter((l) => l.msg === 'model call' || l.msg === 'provider attempt failed; failing over');
  expect(ofCall.length).toBeGreaterThanOrEqual(2);
  // The span id is the call's own (its span in the sidecar), not the agent's that called it.
  const call = byName('chat m')[0]!;
  for (const line of ofCall.filter((l) => l.model === 'm')) expect(line).toMatchObject({ trace_id: call.traceId, span_id: call.spanId });
  for (const line of ofCall) expect(line).toMatchObject({ trace_id: expect.not.stringMatching(agent.traceId), span_id: expect.not.stringMatching(agent.spanId) });
  // Lines written outside any call carry none, and no line repeats a key (Elasticsearch refuses those).
  expect(lines.find((l) => l.msg === 'model call' && l.trace_id === undefined)).toBeUndefined();
  for (const raw of logLines) expect(raw.match(/"component":/g)?.length ?? 0).toBeLessThanOrEqual(1);
});
