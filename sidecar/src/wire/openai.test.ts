import { describe, expect, it } from 'vitest';
import { ChatRequest, chunkToSSE, CompletionRequest, EmbeddingsRequest, openAIError, SSE_DONE, wantsUsage, type ChatCompletionChunk } from './openai.js';

const minimal = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] };

describe('OpenAI request schemas', () => {
  it('keep fields they do not model, at every level, untouched', () => {
    const body = {
      ...minimal,
      store: true,
      reasoning_effort: 'high',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi', cache_control: { type: 'ephemeral' } }], extra: 1 }],
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } }, custom: 'x' }],
    };
    expect(ChatRequest.parse(body)).toEqual(body);
  });

  it('accept explicit nulls for unset options, as several clients send them', () => {
    const parsed = ChatRequest.parse({ ...minimal, stop: null, tools: null, tool_choice: null, max_tokens: null, temperature: null, response_format: null, stream_options: null });
    expect(parsed.stop).toBeNull();
  });

  it('accept every message role and content form of the chat API', () => {
    const parsed = ChatRequest.safeParse({
      model: 'm',
      messages: [
        { role: 'system', content: 'a' },
        { role: 'developer', content: [{ type: 'text', text: 'b' }] },
        { role: 'user', content: [{ type: 'text', text: 'c' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AA' } }, { type: 'input_audio', input_audio: { data: 'AA', format: 'wav' } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'assistant', content: [{ type: 'refusal', refusal: 'no' }] },
        { role: 'tool', tool_call_id: 't', content: 'ok' },
      ],
      tool_choice: { type: 'function', function: { name: 'f' } },
      response_format: { type: 'json_schema', json_schema: { name: 's', schema: { type: 'object' }, strict: true } },
      stop: ['a', 'b'],
    });
    expect(parsed.success).toBe(true);
  });

  it('name the offending field of a malformed request', () => {
    const result = ChatRequest.safeParse({ model: 'm', messages: [{ role: 'user', content: 'a' }, { role: 'tool', content: 'x' }] });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toContain('messages.1.tool_call_id');
    expect(ChatRequest.safeParse({ model: 'm', messages: [{ role: 'wizard', content: 'a' }] }).success).toBe(false);
    expect(ChatRequest.safeParse({ model: 'm', messages: [] }).success).toBe(false);
  });

  it('accept text or token ids as embeddings input and prompt, but not a mix', () => {
    for (const input of ['a', ['a', 'b'], [1, 2], [[1], [2, 3]], []]) expect(EmbeddingsRequest.safeParse({ model: 'e', input }).success, JSON.stringify(input)).toBe(true);
    for (const input of [['a', 1], [1.5], [[1], 'a'], { a: 1 }, null]) expect(EmbeddingsRequest.safeParse({ model: 'e', input }).success, JSON.stringify(input)).toBe(false);
    expect(CompletionRequest.safeParse({ model: 'c', prompt: 'say', echo: null }).success).toBe(true);
    expect(EmbeddingsRequest.safeParse({ model: 'e', input: 'a', encoding_format: 'hex' }).success).toBe(false);
  });

  it('validate a long token array quickly', () => {
    const input = Array.from({ length: 200_000 }, (_, i) => i);
    // CPU time, not wall time: a loaded machine stretches the second without the check costing more.
    const started = process.cpuUsage();
    expect(EmbeddingsRequest.safeParse({ model: 'e', input }).success).toBe(true);
    const { user, system } = process.cpuUsage(started);
    expect((user + system) / 1000).toBeLessThan(200);
  });
});

describe('OpenAI response helpers', () => {
  it('frame a chunk as one SSE data event and end with [DONE]', () => {
    const chunk: ChatCompletionChunk = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'a\nb' }, finish_reason: null }] };
    expect(chunkToSSE(chunk)).toBe('data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"a\\nb"},"finish_reason":null}]}\n\n');
    expect(SSE_DONE).toBe('data: [DONE]\n\n');
  });

  it('shape a canonical error as the OpenAI error body, with nulls for absent param and code', () => {
    expect(openAIError({ status: 429, type: 'rate_limit_error', message: 'slow down' })).toEqual({
      error: { message: 'slow down', type: 'rate_limit_error', param: null, code: null },
    });
  });

  it('tell whether the client asked for the usage chunk', () => {
    expect(wantsUsage({ stream_options: { include_usage: true } })).toBe(true);
    expect(wantsUsage({ stream_options: null })).toBe(false);
    expect(wantsUsage({})).toBe(false);
  });
});
