/**
 * A model tool call in the collector: `airlock__generate` called by an agent in a trace of its
 * own is one `execute_tool` span linked to the agent's span, with the model call it made (and that
 * call's failover attempts) beneath it, and neither the prompt nor the answer in any export.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import type { OtlpCollector } from '../../mocks/otlp-collector.js';
import { agentTraceContext, keyFile, mcpClient, withCollector, type Traced } from './harness.js';

const KEY = 'sk-model-tools-trace-key-0123456789';
const PROMPT = 'the hidden recipe calls for saffron';

const agent = agentTraceContext();

let collector: OtlpCollector;
let first: MockProvider;
let second: MockProvider;
let answer: string;
let byName: Traced<unknown>['named'];

beforeAll(async () => {
  first = await startMock('openai', { keys: [KEY] });
  second = await startMock('anthropic', { keys: [KEY] });
  ({ collector, named: byName, result: answer } = await withCollector(
    async (dir, otlp) => {
      const key = await keyFile(dir, 'key', KEY);
      return {
        version: 1,
        sandbox: { name: 'traced-tools' },
        providers: [
          { name: 'first', type: 'openai', baseURL: first.url, priority: 0, retries: { maxAttempts: 1 }, apiKeys: [{ file: key }], models: [{ name: 'm' }] },
          { name: 'second', type: 'anthropic', baseURL: second.url, priority: 1, apiKeys: [{ file: key }], models: [{ name: 'm' }] },
        ],
        mcp: { modelTools: { enabled: true } },
        telemetry: { otlp },
      };
    },
    async (stack) => {
      first.script({ status: 503 });
      const client = await mcpClient(stack, { traceparent: agent.traceparent });
      const result = (await client.callTool({ name: 'airlock__generate', arguments: { model: 'm', prompt: PROMPT } })) as CallToolResult;
      await client.close();
      return (result.structuredContent as { text: string }).text;
    },
  ));
}, 60_000);

afterAll(async () => {
  await first?.close();
  await second?.close();
  await collector?.close();
});

it("puts the model call and its attempts under the tool span, linked to the agent's span", () => {
  expect(answer).toContain('saffron');
  const [tool, ...moreTools] = byName('execute_tool airlock__generate');
  expect(moreTools).toEqual([]);
  expect(tool).toMatchObject({ parentSpanId: '', links: [{ traceId: agent.traceId, spanId: agent.spanId }] });
  expect(tool!.attributes).toMatchObject({ 'gen_ai.tool.name': 'airlock__generate', 'airlock.mcp.backend': 'airlock (built-in)', 'airlock.mcp.outcome': 'ok' });
  const [call, ...moreCalls] = byName('chat m');
  expect(moreCalls).toEqual([]);
  // A child of the tool span: no link of its own.
  expect(call).toMatchObject({ traceId: tool!.traceId, parentSpanId: tool!.spanId, links: [] });
  expect(call!.attributes).toMatchObject({ 'airlock.provider': 'second' });
  expect(byName('attempt first')[0]).toMatchObject({ parentSpanId: call!.spanId, attributes: expect.objectContaining({ 'http.response.status_code': 503 }) });
  expect(byName('attempt second')[0]).toMatchObject({ parentSpanId: call!.spanId });
});

it('exports neither the prompt nor the answer nor the key', () => {
  const everything = Buffer.concat(collector.rawBodies).toString('latin1');
  for (const secret of [KEY, PROMPT, answer, 'saffron']) expect(everything).not.toContain(secret);
});
