import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mockEmbedding, startMock } from './index.js';
import type { MockProvider } from './index.js';

const KEY = 'sk-test-openai-0001';
const tools = ['lookup', 'search', 'fetch'].map((name) => ({
  type: 'function' as const,
  function: { name, description: `${name} things`, parameters: { type: 'object', properties: { input: { type: 'string' } } } },
}));

let mock: MockProvider;
let client: OpenAI;

beforeAll(async () => {
  mock = await startMock('openai', { keys: [KEY], models: ['gpt-4o-mini', 'gpt-4.1'] });
  client = new OpenAI({ apiKey: KEY, baseURL: mock.url, maxRetries: 0 });
});
afterAll(() => mock.close());
beforeEach(() => mock.reset());

const user = (content: string) => [{ role: 'user' as const, content }];

describe('openai mock: chat completions', () => {
  it('echoes the last user message, with usage and the request recorded', async () => {
    const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('hello there world') });
    expect(completion.object).toBe('chat.completion');
    expect(completion.choices[0]?.message.content).toBe('echo: hello there world');
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.usage?.completion_tokens).toBe(4);
    expect(completion.usage?.total_tokens).toBe((completion.usage?.prompt_tokens ?? 0) + 4);
    const [request] = mock.received;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe('/v1/chat/completions');
    expect(request?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(request?.body).toMatchObject({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello there world' }] });
  });

  it('joins content parts and counts images', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'what is' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] }],
    });
    expect(completion.choices[0]?.message.content).toBe('echo: what is [image]');
  });

  it('streams several chunks that the SDK helper accumulates', async () => {
    const stream = client.chat.completions.stream({ model: 'gpt-4o-mini', messages: user('one two three four') });
    const deltas: string[] = [];
    stream.on('content', (delta) => deltas.push(delta));
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]?.message.content).toBe('echo: one two three four');
    expect(final.choices[0]?.finish_reason).toBe('stop');
    expect(deltas.length).toBeGreaterThanOrEqual(5);
  });

  it('with include_usage sends usage: null on every chunk, then a usage chunk with no choices', async () => {
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('count me'), stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toMatchObject({ completion_tokens: 3 });
    for (const chunk of chunks.slice(0, -1)) expect(chunk.usage).toBeNull();
    expect(chunks[0]?.choices[0]?.delta).toMatchObject({ role: 'assistant', content: '' });
    expect(chunks.at(-2)?.choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' });
  });

  it('frames the stream byte for byte as SSE and ends with [DONE]', async () => {
    const response = await fetch(`${mock.url}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: user('raw bytes') }),
    });
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const text = await response.text();
    expect(text.endsWith('\n\ndata: [DONE]\n\n')).toBe(true);
    const frames = text.split('\n\n').filter((f) => f !== '');
    for (const frame of frames) expect(frame).toMatch(/^data: /);
    for (const frame of frames.slice(0, -1)) expect(() => JSON.parse(frame.slice(6))).not.toThrow();
    expect(text).not.toContain('"usage"');
  });

  it('calls the first tool with the user text, streamed and not', async () => {
    const plain = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('find cats'), tools });
    const call = plain.choices[0]?.message.tool_calls?.[0];
    expect(plain.choices[0]?.finish_reason).toBe('tool_calls');
    expect(plain.choices[0]?.message.content).toBeNull();
    expect(plain.choices[0]?.message.tool_calls).toHaveLength(1);
    expect(call?.type === 'function' && call.function.name).toBe('lookup');
    expect(call?.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ input: 'find cats' });

    const streamed = await client.chat.completions.stream({ model: 'gpt-4o-mini', messages: user('find dogs'), tools }).finalChatCompletion();
    const streamedCall = streamed.choices[0]?.message.tool_calls?.[0];
    expect(streamed.choices[0]?.finish_reason).toBe('tool_calls');
    expect(streamedCall?.type === 'function' && JSON.parse(streamedCall.function.arguments)).toEqual({ input: 'find dogs' });
    expect(streamedCall?.id).toMatch(/^call_/);
  });

  it('makes two parallel calls when asked to, in streams too', async () => {
    for (const final of [
      await client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('do these in parallel'), tools }),
      await client.chat.completions.stream({ model: 'gpt-4o-mini', messages: user('do these in parallel'), tools }).finalChatCompletion(),
    ]) {
      const calls = final.choices[0]?.message.tool_calls ?? [];
      expect(calls.map((c) => c.type === 'function' && c.function.name)).toEqual(['lookup', 'search']);
      expect(new Set(calls.map((c) => c.id)).size).toBe(2);
    }
    const single = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('in parallel'), tools, parallel_tool_calls: false });
    expect(single.choices[0]?.message.tool_calls).toHaveLength(1);
  });

  it('honours tool_choice, refuses one (or parallel_tool_calls) without tools or naming no tool, and answers tool results', async () => {
    const forced = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: user('x'),
      tools,
      tool_choice: { type: 'function', function: { name: 'fetch' } },
    });
    expect(forced.choices[0]?.message.tool_calls?.[0]).toMatchObject({ function: { name: 'fetch' } });
    const undeclared = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('x'), tools, tool_choice: { type: 'function', function: { name: 'missing' } } }).catch((e: unknown) => e);
    expect(undeclared).toMatchObject({ status: 400, type: 'invalid_request_error', param: 'tool_choice', message: expect.stringContaining("Tool choice 'missing' not found in 'tools' parameter.") });
    for (const choice of ['none', 'auto', { type: 'function', function: { name: 'fetch' } }] as OpenAI.Chat.ChatCompletionToolChoiceOption[]) {
      const toolless = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('x'), tool_choice: choice }).catch((e: unknown) => e);
      expect(toolless).toMatchObject({ status: 400, param: 'tool_choice', message: expect.stringContaining("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.") });
    }
    const orphan = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('x'), tools: [], parallel_tool_calls: false }).catch((e: unknown) => e);
    expect(orphan).toMatchObject({ status: 400, param: 'parallel_tool_calls', message: expect.stringContaining("'parallel_tool_calls' is only allowed when 'tools' are specified.") });
    const none = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('just talk'), tools, tool_choice: 'none' });
    expect(none.choices[0]?.message.content).toBe('echo: just talk');

    const result = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      tools,
      messages: [
        { role: 'user', content: 'find cats' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '3 cats found' },
      ],
    });
    expect(result.choices[0]?.message.content).toBe('tool result: 3 cats found');
  });

  it('truncates at max_tokens with finish_reason length, and obeys scripted replies', async () => {
    const short = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('a b c d e f'), max_completion_tokens: 3 });
    expect(short.choices[0]?.message.content).toBe('echo: a b');
    expect(short.choices[0]?.finish_reason).toBe('length');

    mock.script({ reply: 'scripted text', toolCalls: [{ name: 'search', arguments: { q: 1 } }] });
    const scripted = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('ignored') });
    expect(scripted.choices[0]?.message.content).toBe('scripted text');
    expect(scripted.choices[0]?.message.tool_calls?.[0]).toMatchObject({ function: { name: 'search', arguments: '{"q":1}' } });
  });
});

describe('openai mock: several answers', () => {
  it('answers n choices, plain and streamed, bills each, and refuses n past 1 to 128 in OpenAI\'s words; best_of is billed for every completion generated', async () => {
    const plain = await client.chat.completions.create({ model: 'gpt-4o-mini', n: 3, messages: user('hello there world') });
    expect(plain.choices.map((c) => [c.index, c.message.content])).toEqual([0, 1, 2].map((i) => [i, 'echo: hello there world']));
    expect(plain.usage?.completion_tokens).toBe(12);
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', n: 2, stream: true, stream_options: { include_usage: true }, messages: user('hi') });
    const texts = ['', ''];
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      for (const c of chunk.choices) texts[c.index] += c.delta.content ?? '';
      usage ??= chunk.usage;
    }
    expect(texts).toEqual(['echo: hi', 'echo: hi']);
    expect(usage?.completion_tokens).toBe(2 * 2);
    const tooMany = await client.chat.completions.create({ model: 'gpt-4o-mini', n: 129, messages: user('x') }).catch((e: unknown) => e);
    expect(tooMany).toMatchObject({ status: 400, param: 'n', code: 'integer_above_max_value' });
    const best = await client.completions.create({ model: 'gpt-4o-mini', prompt: 'say this', best_of: 4 });
    expect(best.choices).toHaveLength(1);
    expect(best.usage?.completion_tokens).toBe(4 * 3);
  });

  it('answers a legacy completion of a batch of prompts with n completions of each, best_of generated and billed for each', async () => {
    const batch = await client.completions.create({ model: 'gpt-4o-mini', prompt: ['say this', 'and that one'], n: 2, best_of: 3 });
    expect(batch.choices.map((c) => [c.index, c.text])).toEqual([
      [0, 'echo: say this'],
      [1, 'echo: say this'],
      [2, 'echo: and that one'],
      [3, 'echo: and that one'],
    ]);
    expect(batch.usage).toMatchObject({ prompt_tokens: 2 + 3, completion_tokens: 3 * 3 + 3 * 4 });
    const tokens = await client.completions.create({ model: 'gpt-4o-mini', prompt: [[1, 2, 3], [4, 5]], max_tokens: 1 });
    expect(tokens.choices).toHaveLength(2);
    expect(tokens.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 2 });
    const stream = await client.completions.create({ model: 'gpt-4o-mini', prompt: ['one', 'two'], stream: true });
    const texts = ['', ''];
    for await (const chunk of stream) for (const c of chunk.choices) texts[c.index] += c.text;
    expect(texts).toEqual(['echo: one', 'echo: two']);
  });
});

describe('openai mock: other endpoints', () => {
  it('serves deterministic embeddings as floats and as base64 (the SDK default)', async () => {
    const viaBase64 = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['alpha', 'beta'] });
    expect(mock.received[0]?.body).toMatchObject({ encoding_format: 'base64' });
    expect(viaBase64.data.map((d) => d.embedding)).toEqual([mockEmbedding('alpha'), mockEmbedding('beta')]);
    const viaFloat = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'alpha', encoding_format: 'float', dimensions: 12 });
    expect(viaFloat.data[0]?.embedding).toEqual(mockEmbedding('alpha', 12));
    expect(viaFloat.usage.prompt_tokens).toBe(1);
    const viaIds = await client.embeddings.create({ model: 'text-embedding-3-small', input: [[1, 2, 3], [4, 5]], encoding_format: 'float' });
    expect(viaIds.data).toHaveLength(2);
    expect(viaIds.usage.prompt_tokens).toBe(5);
  });

  it('lists the configured models and answers legacy completions', async () => {
    const models = [];
    for await (const model of client.models.list()) models.push(model.id);
    expect(models).toEqual(['gpt-4o-mini', 'gpt-4.1']);
    const completion = await client.completions.create({ model: 'gpt-4o-mini', prompt: 'say this' });
    expect(completion.choices[0]?.text).toBe('echo: say this');
    const stream = await client.completions.create({ model: 'gpt-4o-mini', prompt: 'say this', stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    expect(text).toBe('echo: say this');
  });
});

describe('openai mock: errors', () => {
  it('refuses a function name OpenAI refuses (a dot, past 64 characters), declared or in the history, as OpenAI does', async () => {
    const named = (name: string) => [{ type: 'function' as const, function: { name, parameters: { type: 'object' } } }];
    const dotted = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('x'), tools: named('fs.read_file') }).catch((e: unknown) => e);
    expect(dotted).toMatchObject({ status: 400, param: 'tools[0].function.name', code: 'invalid_value' });
    const long = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('x'), tools: named('x'.repeat(65)) }).catch((e: unknown) => e);
    expect(long).toMatchObject({ status: 400, param: 'tools[0].function.name', code: 'string_above_max_length' });
    const history = [...user('x'), { role: 'assistant' as const, content: null, tool_calls: [{ id: 'c1', type: 'function' as const, function: { name: 'ns:tool', arguments: '{}' } }] }, { role: 'tool' as const, tool_call_id: 'c1', content: 'ok' }];
    expect(await client.chat.completions.create({ model: 'gpt-4o-mini', messages: history }).catch((e: unknown) => e)).toMatchObject({ status: 400, param: 'messages[1].tool_calls[0].function.name' });
    expect((await client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('x'), tools: named('fs_read-file') })).choices[0]?.message.tool_calls?.[0]).toMatchObject({ function: { name: 'fs_read-file' } });
  });

  it('refuses an image in a tool message (tool messages take text parts only), as OpenAI does', async () => {
    const call = { role: 'assistant' as const, content: null, tool_calls: [{ id: 'c1', type: 'function' as const, function: { name: 'shot', arguments: '{}' } }] };
    const image = { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } };
    const messages = [...user('x'), call, { role: 'tool', tool_call_id: 'c1', content: [{ type: 'text', text: 'see' }, image] }] as OpenAI.ChatCompletionMessageParam[];
    expect(await client.chat.completions.create({ model: 'gpt-4o-mini', messages }).catch((e: unknown) => e)).toMatchObject({ status: 400, param: 'messages[2].content[1].type', code: 'invalid_value' });
    const moved = [...user('x'), call, { role: 'tool' as const, tool_call_id: 'c1', content: 'see below' }, { role: 'user' as const, content: [image] }] as OpenAI.ChatCompletionMessageParam[];
    expect((await client.chat.completions.create({ model: 'gpt-4o-mini', messages: moved })).choices[0]?.message.content).toBe('echo: [image]');
  });

  it("refuses a strict schema that strict mode does not take, in OpenAI's words, and answers one it does", async () => {
    const format = (schema: Record<string, unknown>) => ({ type: 'json_schema' as const, json_schema: { name: 'out', strict: true, schema } });
    const refused = async (schema: Record<string, unknown>) => (await client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('x'), response_format: format(schema) }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
    const optional = await refused({ type: 'object', properties: { a: { type: 'string' }, b: { type: 'string' } }, required: ['a'], additionalProperties: false });
    expect(optional).toBeInstanceOf(OpenAI.BadRequestError);
    expect(optional.message).toContain("Invalid schema for response_format 'out': In context=(), 'required' is required to be supplied and to be an array including every key in properties. Missing 'b'.");
    const open = await refused({ type: 'object', properties: { a: { type: 'object', properties: {} } }, required: ['a'], additionalProperties: false });
    expect(open.message).toContain("In context=('properties', 'a'), 'additionalProperties' is required to be supplied and to be false.");
    const tool = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('x'), tools: [{ type: 'function', function: { name: 'f', strict: true, parameters: { type: 'object', properties: { a: { type: 'string' } } } } }] }).catch((e: unknown) => e);
    expect(tool).toMatchObject({ status: 400, param: 'tools[0].function.parameters' });
    const ok = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('x'), response_format: format({ type: 'object', properties: { a: { type: 'string' } }, required: ['a'], additionalProperties: false }) });
    expect(JSON.parse(ok.choices[0]!.message.content!)).toEqual({ a: expect.any(String) });
  });

  it('refuses a wrong key with the real 401 body', async () => {
    const bad = new OpenAI({ apiKey: 'sk-wrong-key-9999', baseURL: mock.url, maxRetries: 0 });
    const err = await bad.chat.completions.create({ model: 'gpt-4o-mini', messages: user('hi') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(err).toMatchObject({ status: 401, code: 'invalid_api_key', type: 'invalid_request_error' });
  });

  it('surfaces scripted statuses as typed errors with Retry-After', async () => {
    mock.script({ status: 429, retryAfter: 7 }, { status: 500 }, { status: 503 });
    const limited = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('hi') }).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
    expect(limited).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
    expect((limited as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after')).toBe('7');
    const internal = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('hi') }).catch((e: unknown) => e);
    expect(internal).toBeInstanceOf(OpenAI.InternalServerError);
    expect(internal).toMatchObject({ status: 500, type: 'server_error' });
    const overloaded = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('hi') }).catch((e: unknown) => e);
    expect(overloaded).toMatchObject({ status: 503 });
    const fine = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('hi') });
    expect(fine.choices[0]?.message.content).toBe('echo: hi');
  });

  it('ends a stream with a data: {"error": ...} frame that the SDK throws', async () => {
    mock.script({ midStreamError: { afterChunks: 2, message: 'boom' } });
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: user('a b c d'), stream: true });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? '');
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as Error).message).toContain('boom');
    expect(seen).toEqual(['', 'echo: ']);
  });
});

describe('openai mock: Responses namespace tools', () => {
  it('answers a call of a function inside a namespace with its name and the namespace, plain and streamed', async () => {
    const namespaced = [{ type: 'namespace', name: 'crm', description: 'CRM', tools: [{ type: 'function', name: 'find', parameters: { type: 'object', properties: {} } }] }];
    mock.script({ toolCalls: [{ name: 'crm__find' }] }, { toolCalls: [{ name: 'crm__find' }] });
    const plain = await client.responses.create({ model: 'gpt-4.1', input: 'find Ada', tools: namespaced as never });
    expect(plain.output[0]).toMatchObject({ type: 'function_call', name: 'find', namespace: 'crm' });
    const done = [];
    for await (const event of await client.responses.create({ model: 'gpt-4.1', input: 'find Ada', tools: namespaced as never, stream: true })) {
      if (event.type === 'response.output_item.done') done.push(event.item);
    }
    expect(done[0]).toMatchObject({ type: 'function_call', name: 'find', namespace: 'crm' });
  });

  it("refuses a function name outside OpenAI's pattern or past 128 characters, and a tool choice naming no function of tools, in OpenAI's words", async () => {
    const fn = (name: string) => ({ type: 'function' as const, name, parameters: { type: 'object', properties: {} }, strict: false });
    const dotted = await client.responses.create({ model: 'gpt-4.1', input: 'x', tools: [fn('ok'), fn('fs.read_file')] }).catch((e: unknown) => e);
    expect(dotted).toMatchObject({ status: 400, param: 'tools[1].name', code: 'invalid_value', message: expect.stringContaining("string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.") });
    const long = await client.responses.create({ model: 'gpt-4.1', input: 'x', tools: [fn('x'.repeat(129))] }).catch((e: unknown) => e);
    expect(long).toMatchObject({ status: 400, param: 'tools[0].name', code: 'string_above_max_length', message: expect.stringContaining('maximum length 128, but got a string with length 129') });
    expect((await client.responses.create({ model: 'gpt-4.1', input: 'x', tools: [fn('x'.repeat(128))] })).output[0]).toMatchObject({ type: 'function_call' });
    const undeclared = await client.responses.create({ model: 'gpt-4.1', input: 'x', tools: [fn('ok')], tool_choice: { type: 'function', name: 'missing' } }).catch((e: unknown) => e);
    expect(undeclared).toMatchObject({ status: 400, param: 'tool_choice', message: expect.stringContaining("Tool choice 'missing' not found in 'tools' parameter.") });
    const chosen = await client.responses.create({ model: 'gpt-4.1', input: 'x', tools: [fn('ok'), fn('fs_read-file')], tool_choice: { type: 'function', name: 'fs_read-file' } });
    expect(chosen.output[0]).toMatchObject({ type: 'function_call', name: 'fs_read-file' });
  });

  it("checks input item ids as OpenAI does: shape, length and the prefix of the item's type", async () => {
    const send = (item: Record<string, unknown>) => client.responses.create({ model: 'gpt-4.1', input: [item, { role: 'user', content: 'go on' }] as never }).catch((e: unknown) => e);
    expect(await send({ type: 'function_call', id: 'call_1', call_id: 'call_1', name: 'f', arguments: '{}' })).toMatchObject({ status: 400, message: expect.stringContaining("Expected an ID that begins with 'fc'.") });
    expect(await send({ type: 'message', role: 'assistant', id: 'item_1', content: [{ type: 'output_text', text: 'hi' }] })).toMatchObject({ status: 400, message: expect.stringContaining("Expected an ID that begins with 'msg'.") });
    expect(await send({ type: 'message', role: 'assistant', id: `msg_${'a'.repeat(70)}`, content: [{ type: 'output_text', text: 'hi' }] })).toMatchObject({ status: 400, message: expect.stringContaining('maximum length 64') });
    const ok = await send({ type: 'message', role: 'assistant', id: 'msg_abc', content: [{ type: 'output_text', text: 'hi' }] });
    expect(ok).toMatchObject({ object: 'response' });
  });

  it('checks call ids as OpenAI does: 1 to 64 characters, on a function_call and on its output', async () => {
    const send = (callId: string, type = 'function_call') => {
      const item = type === 'function_call' ? { type, call_id: callId, name: 'f', arguments: '{}' } : { type, call_id: callId, output: 'done' };
      return client.responses.create({ model: 'gpt-4.1', input: [{ role: 'user', content: 'go' }, item] as never }).catch((e: unknown) => e);
    };
    const long = `call_${'a'.repeat(60)}`;
    expect(await send(long)).toMatchObject({ status: 400, param: 'input[1].call_id', code: 'string_above_max_length', message: expect.stringContaining('Expected a string with maximum length 64, but got a string with length 65 instead.') });
    expect(await send(long, 'function_call_output')).toMatchObject({ status: 400, param: 'input[1].call_id', code: 'string_above_max_length' });
    expect(await send('')).toMatchObject({ status: 400, param: 'input[1].call_id', code: 'empty_string' });
    expect(await send(long.slice(0, 64))).toMatchObject({ object: 'response' });
  });
});

describe('openai-compatible mock: tool choices', () => {
  it("refuses a tool_choice but none without tools, in vLLM's words, and takes none", async () => {
    const compatible = await startMock('openai-compatible');
    try {
      const vllm = new OpenAI({ apiKey: 'unused', baseURL: compatible.url, maxRetries: 0 });
      for (const choice of ['auto', 'required', { type: 'function', function: { name: 'lookup' } }] as OpenAI.Chat.ChatCompletionToolChoiceOption[]) {
        const toolless = await vllm.chat.completions.create({ model: 'qwen', messages: user('x'), tool_choice: choice }).catch((e: unknown) => e);
        expect(toolless).toMatchObject({ status: 400, message: expect.stringContaining('When using `tool_choice`, `tools` must be set.') });
      }
      const none = await vllm.chat.completions.create({ model: 'qwen', messages: user('just talk'), tool_choice: 'none' });
      expect(none.choices[0]?.message.content).toBe('echo: just talk');
      const auto = await vllm.chat.completions.create({ model: 'qwen', messages: user('find'), tools, tool_choice: 'auto' });
      expect(auto.choices[0]?.message.tool_calls?.[0]).toMatchObject({ function: { name: 'lookup' } });
    } finally {
      await compatible.close();
    }
  });
});
