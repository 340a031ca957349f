/**
 * The agent cannot switch the platform's tracing off, nor choose where its calls are filed (red
 * team 22): a `traceparent` whose flags say "not sampled" made the SDK's ParentBased sampler drop
 * every span of the call, its captured content included, and a sampled one put the sidecar's spans
 * under a trace id of the agent's choosing. Each call is now a trace of the sidecar's own, exported
 * whatever the flags, with the agent's span as a link; its trace id and `tracestate` go no further.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import type { CollectedSpan, OtlpCollector } from '../../mocks/otlp-collector.js';
import { tracedOpenAi, withCollector } from './harness.js';

const KEY = 'sk-trace-context-key-0123456789';
const UNSAMPLED = { traceId: '0123456789abcdef0123456789abcdef', spanId: '0123456789abcdef' };
const FORGED = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) };

let mock: MockProvider;
let collector: OtlpCollector;
let spans: CollectedSpan[];

beforeAll(async () => {
  mock = await startMock('openai', { keys: [KEY] });
  ({ collector, spans } = await withCollector(
    tracedOpenAi('agent-context', mock.url, KEY, { captureMessageContent: true }),
    async (stack) => {
      const openai = stack.openai();
      await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'the unsampled call' }] }, { headers: { traceparent: `00-${UNSAMPLED.traceId}-${UNSAMPLED.spanId}-00` } });
      await openai.chat.completions.create(
        { model: 'm', messages: [{ role: 'user', content: 'the forged call' }] },
        { headers: { traceparent: `00-${FORGED.traceId}-${FORGED.spanId}-01`, tracestate: 'ot=th:0,vendor=spoofed' } },
      );
    },
  ));
}, 60_000);

afterAll(async () => {
  await mock?.close();
  await collector?.close();
});

/** The call span whose captured prompt holds `text`. */
const callWith = (text: string) => spans.filter((s) => s.name === 'chat m' && String(s.attributes['gen_ai.input.messages']).includes(text));

it('exports the spans and the content of a call whose traceparent says "not sampled"', () => {
  const [call, ...more] = callWith('the unsampled call');
  expect(more).toEqual([]);
  expect(call!.links).toEqual([{ ...UNSAMPLED, attributes: { 'airlock.link': 'agent' } }]);
  expect(spans.filter((s) => s.name === 'attempt upstream' && s.parentSpanId === call!.spanId)).toHaveLength(1);
});

it("files no span under the agent's trace id, and sends the provider neither it nor the agent's tracestate", () => {
  const [call] = callWith('the forged call');
  expect(call).toMatchObject({ parentSpanId: '', links: [{ ...FORGED }] });
  for (const span of spans) expect([UNSAMPLED.traceId, FORGED.traceId]).not.toContain(span.traceId);
  expect(mock.received).toHaveLength(2);
  for (const { headers } of mock.received) {
    expect(headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(headers.traceparent).not.toContain(FORGED.traceId);
    expect(headers.tracestate).toBeUndefined();
  }
  const attempt = spans.find((s) => s.name === 'attempt upstream' && s.parentSpanId === call!.spanId)!;
  expect(mock.received.map((r) => r.headers.traceparent)).toContain(`00-${call!.traceId}-${attempt.spanId}-01`);
});
