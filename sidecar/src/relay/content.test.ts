/**
 * What a stream cut before its usage is estimated from: the characters of its chunks as each
 * provider's translator makes them. Reasoning is billed as output, so a stream left after its
 * thinking and before its answer must count the thinking, in every wire format.
 */
import { describe, expect, it } from 'vitest';
import { adapterFor } from '../providers/index.js';
import type { StreamTranslator, TranslateContext } from '../providers/types.js';
import { textTokens } from '../ingress/estimate.js';
import { answerTokens, contentTokens } from './content.js';

const context: TranslateContext = { requestedModel: 'agent-model', id: 'chatcmpl-x1y2z3', created: 1 };
const THINKING = 'First the Euclidean algorithm: 1071 = 2 × 462 + 147, then 462 = 3 × 147 + 21.';

/** The tokens counted of a stream's first frames (no answer text, no usage yet). */
function counted(translator: StreamTranslator<{ choices?: readonly unknown[] }>, frames: string): number {
  return translator.push(Buffer.from(frames)).reduce((n, chunk) => n + contentTokens(chunk), 0);
}

const sse = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`;
const event = (type: string, value: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...value })}\n\n`;

describe('a stream cut after its thinking counts the thinking', () => {
  it.each([
    ['OpenAI-compatible reasoning_content (DeepSeek, vLLM)', () => counted(adapterFor('openai-compatible').chatStream(context), sse({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { role: 'assistant', reasoning_content: THINKING }, finish_reason: null }] }))],
    ['OpenAI-compatible reasoning (OpenRouter, newer vLLM), counted once beside reasoning_content', () => counted(adapterFor('openai-compatible').chatStream(context), sse({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { reasoning: THINKING }, finish_reason: null }] }) + sse({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { reasoning: '', reasoning_content: '' }, finish_reason: null }] }))],
    [
      'Anthropic thinking_delta, the block given whole with its signature at its stop not counted again',
      () =>
        counted(
          adapterFor('anthropic').chatStream(context),
          event('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', content: [], model: 'claude', usage: { input_tokens: 4, output_tokens: 1 } } }) +
            event('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }) +
            event('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: THINKING } }) +
            event('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: 'EqQBCgIYAhIM' } }) +
            event('content_block_stop', { index: 0 }),
        ),
    ],
    ['Gemini parts with thought: true', () => counted(adapterFor('gemini').chatStream(context), sse({ candidates: [{ content: { parts: [{ text: THINKING, thought: true }], role: 'model' }, index: 0 }], modelVersion: 'gemini-2.5-flash' }))],
    ['Ollama thinking', () => counted(adapterFor('ollama').chatStream(context), `${JSON.stringify({ model: 'm', created_at: '2025-01-01T00:00:00Z', message: { role: 'assistant', content: '', thinking: THINKING }, done: false })}\n`)],
    [
      'Responses reasoning deltas',
      () =>
        counted(
          adapterFor('openai').responsesStream!(context),
          event('response.reasoning_summary_text.delta', { item_id: 'rs_1', output_index: 0, summary_index: 0, delta: THINKING.slice(0, 20), sequence_number: 1 }) +
            event('response.reasoning_text.delta', { item_id: 'rs_1', output_index: 0, content_index: 0, delta: THINKING.slice(20), sequence_number: 2 }),
        ),
    ],
  ])('%s', (_format, count) => {
    // Counted per delta: a text cut in two counts at least as much as whole.
    expect(count()).toBeGreaterThanOrEqual(textTokens(THINKING));
  });
});

describe('a stream cut before its usage counts every kind of output the provider bills', () => {
  const chunk = (delta: Record<string, unknown>) => sse({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: null }] });
  it.each([
    ['a legacy function_call (functions are passed on as the agent sent them)', { function_call: { name: 'lookup', arguments: THINKING } }],
    ['a refusal', { refusal: THINKING }],
    ['an audio answer’s transcript', { audio: { id: 'audio_1', transcript: THINKING } }],
  ])('%s (was 0, red team 26)', (_what, delta) => {
    expect(counted(adapterFor('openai').chatStream(context), chunk(delta))).toBeGreaterThanOrEqual(textTokens(THINKING));
  });
});

describe('a whole answer without an output count is counted by its content, not its JSON', () => {
  const envelope = { id: 'chatcmpl-x1y2z3', object: 'chat.completion', created: 1, model: 'some-long-model-name-2026' };
  it.each([
    ['a chat completion’s text, reasoning and tool call', { ...envelope, choices: [{ index: 0, message: { role: 'assistant', content: THINKING, reasoning_content: THINKING, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: THINKING } }] }, finish_reason: 'stop' }] }, 3 * textTokens(THINKING) + 1],
    ['a legacy completion’s text', { ...envelope, object: 'text_completion', choices: [{ index: 0, text: THINKING, finish_reason: 'stop' }] }, textTokens(THINKING)],
    // The instructions a Responses object echoes are the prompt, not output (they were counted as output).
    ['a Responses object’s output, not its instructions', { id: 'resp_1', object: 'response', instructions: THINKING.repeat(10), output: [{ type: 'message', id: 'm', role: 'assistant', content: [{ type: 'output_text', text: THINKING }] }] }, textTokens(THINKING) + 1],
  ])('%s', (_what, answer, tokens) => {
    expect(answerTokens(answer)).toBe(tokens);
    expect(answerTokens(answer)).toBeLessThan(textTokens(JSON.stringify(answer)));
  });
});
