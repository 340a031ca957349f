/**
 * Opt-in message content on model-call spans, as a platform team's collector receives it. Off
 * (the default), no export holds a prompt, an instruction or an answer. On
 * (`telemetry.captureMessageContent`), the `chat` spans carry the GenAI content attributes — for
 * a plain OpenAI call and a streamed Anthropic one alike — and a key pasted into the prompt, the
 * provider's own or any other, reaches no span.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import type { CollectedSpan, OtlpCollector } from '../../mocks/otlp-collector.js';
import { CUT_MARKER, MAX_CONTENT_CHARS } from '../../../sidecar/src/telemetry/content.js';
import { EXPORT_BATCH_SPANS } from '../../../sidecar/src/telemetry/tracing.js';
import { tracedOpenAi, withCollector, type Stack } from './harness.js';

const PROVIDER_KEY = 'sk-content-provider-key-0123456789';
const PASTED_KEY = 'sk-proj-PastedByMistake0123456789abcdef';
const SYSTEM = 'You answer in one short sentence about gardening.';
const PROMPT = `the shed gets painted purple; my key is ${PASTED_KEY} and theirs ${PROVIDER_KEY}`;
const STREAMED_PROMPT = 'which flowers grow best beside a purple shed';

let mock: MockProvider;
const collectors: OtlpCollector[] = [];

interface Answers {
  chat: string;
  streamed: string;
}

/** One plain OpenAI chat and one streamed Anthropic message through a sidecar with `capture` set or not. */
async function run(capture: boolean | undefined): Promise<{ answers: Answers; spans: CollectedSpan[]; raw: string }> {
  const traced = await withCollector(
    tracedOpenAi('content', mock.url, PROVIDER_KEY, capture === undefined ? {} : { captureMessageContent: capture }),
    async (stack: Stack): Promise<Answers> => {
      const chat = await stack.openai().chat.completions.create({ model: 'm', messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: PROMPT }] });
      const stream = stack.anthropic().messages.stream({ model: 'm', max_tokens: 100, messages: [{ role: 'user', content: STREAMED_PROMPT }] });
      const streamed = await stream.finalText();
      return { chat: chat.choices[0]!.message.content ?? '', streamed };
    },
  );
  collectors.push(traced.collector);
  return { answers: traced.result, spans: traced.spans, raw: Buffer.concat(traced.collector.rawBodies).toString('latin1') };
}

const callSpan = (spans: CollectedSpan[], api: string) => {
  const found = spans.filter((s) => s.name === 'chat m' && s.attributes['airlock.api'] === api);
  expect(found).toHaveLength(1);
  return found[0]!;
};

const json = (value: unknown) => JSON.parse(String(value)) as unknown;

/** The run of the describe block it is called in, made before its tests. */
function runBefore(capture: boolean | undefined): () => Awaited<ReturnType<typeof run>> {
  let result: Awaited<ReturnType<typeof run>> | undefined;
  beforeAll(async () => {
    result = await run(capture);
  }, 60_000);
  return () => result!;
}

beforeAll(async () => {
  mock = await startMock('openai', { keys: [PROVIDER_KEY] });
});

afterAll(async () => {
  await mock?.close();
  await Promise.all(collectors.map((c) => c.close()));
});

describe('without captureMessageContent (the default)', () => {
  const ran = runBefore(undefined);

  it('exports the calls with no instruction, prompt or answer in any span', () => {
    const result = ran();
    expect(result.answers.chat.length).toBeGreaterThan(0);
    expect(result.answers.streamed.length).toBeGreaterThan(0);
    expect(result.spans.filter((s) => s.name === 'chat m')).toHaveLength(2);
    for (const text of [SYSTEM, 'purple', STREAMED_PROMPT, result.answers.chat, result.answers.streamed, PASTED_KEY, PROVIDER_KEY]) expect(result.raw).not.toContain(text);
    for (const span of result.spans) expect(Object.keys(span.attributes).filter((k) => /messages|instructions/.test(k))).toEqual([]);
  });
});

describe('with captureMessageContent: true', () => {
  const ran = runBefore(true);

  it('puts the instructions, the prompt and the answer of a plain call on its span, keys redacted', () => {
    const result = ran();
    const span = callSpan(result.spans, 'openai');
    expect(json(span.attributes['gen_ai.system_instructions'])).toEqual([{ type: 'text', content: SYSTEM }]);
    expect(json(span.attributes['gen_ai.input.messages'])).toEqual([
      { role: 'user', parts: [{ type: 'text', content: 'the shed gets painted purple; my key is [REDACTED] and theirs [REDACTED]' }] },
    ]);
    const redactedAnswer = result.answers.chat.replaceAll(PASTED_KEY, '[REDACTED]').replaceAll(PROVIDER_KEY, '[REDACTED]');
    expect(json(span.attributes['gen_ai.output.messages'])).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: redactedAnswer }], finish_reason: 'stop' }]);
  });

  it('gathers a streamed answer in the client API of its choice into the same attributes', () => {
    const result = ran();
    const span = callSpan(result.spans, 'anthropic');
    expect(json(span.attributes['gen_ai.input.messages'])).toEqual([{ role: 'user', parts: [{ type: 'text', content: STREAMED_PROMPT }] }]);
    expect(span.attributes['gen_ai.system_instructions']).toBeUndefined();
    expect(json(span.attributes['gen_ai.output.messages'])).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: result.answers.streamed }], finish_reason: 'stop' }]);
  });

  it('exports no key, pasted or the provider\'s, in any byte sent to the collector', () => {
    const result = ran();
    expect(result.raw).toContain('purple');
    for (const key of [PASTED_KEY, PROVIDER_KEY, 'PastedByMistake']) expect(result.raw).not.toContain(key);
  });
});

describe('with captureMessageContent: true and prompts the agent makes large', () => {
  const HUGE = 2 * 1024 * 1024;
  const SMALL_CALLS = 70;
  let spans: CollectedSpan[] = [];
  let batches: number[] = [];
  let bodies: Buffer[] = [];

  beforeAll(async () => {
    const traced = await withCollector(
      tracedOpenAi('content-bounds', mock.url, PROVIDER_KEY, { captureMessageContent: true }),
      async (stack) => {
        const openai = stack.openai();
        await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `begin ${'x'.repeat(HUGE)} end` }] });
        for (let i = 0; i < SMALL_CALLS; i++) await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `small ${i}` }] });
      },
    );
    collectors.push(traced.collector);
    ({ spans, collector: { batches, rawBodies: bodies } } = traced);
  }, 60_000);

  it('cuts each content attribute to the cap, with a marker that says how much was left out', () => {
    const big = spans.filter((s) => s.name === 'chat m' && String(s.attributes['gen_ai.input.messages']).includes('begin'));
    expect(big).toHaveLength(1);
    const value = String(big[0]!.attributes['gen_ai.input.messages']);
    expect(value).toHaveLength(MAX_CONTENT_CHARS);
    expect(value.startsWith('[{"role":"user","parts":[{"type":"text","content":"begin xxx')).toBe(true);
    expect(value.endsWith(CUT_MARKER)).toBe(true);
    expect(value).not.toContain('end');
    for (const body of bodies) expect(body.length).toBeLessThan(EXPORT_BATCH_SPANS * 3 * 3 * MAX_CONTENT_CHARS);
  });

  it('exports in batches a collector takes, every span of every call', () => {
    expect(spans.filter((s) => s.name === 'chat m')).toHaveLength(SMALL_CALLS + 1);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(spans.length);
    expect(Math.max(...batches)).toBeLessThanOrEqual(EXPORT_BATCH_SPANS);
  });
});
