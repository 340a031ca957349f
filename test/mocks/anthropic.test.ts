import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startMock } from './index.js';
import type { MockProvider } from './index.js';

const KEY = 'sk-ant-test-0001';
const MODEL = 'claude-sonnet-4-6';
const tools = ['lookup', 'search'].map((name) => ({ name, description: `${name} things`, input_schema: { type: 'object' as const, properties: { input: { type: 'string' } } } }));

let mock: MockProvider;
let client: Anthropic;

beforeAll(async () => {
  mock = await startMock('anthropic', { keys: [KEY] });
  client = new Anthropic({ apiKey: KEY, baseURL: mock.url, maxRetries: 0 });
});
afterAll(() => mock.close());
beforeEach(() => mock.reset());

const user = (content: string) => [{ role: 'user' as const, content }];

describe('anthropic mock: messages', () => {
  it('echoes the last user message with end_turn and usage', async () => {
    const message = await client.messages.create({ model: MODEL, max_tokens: 100, messages: user('hello there') });
    expect(message.content).toEqual([{ type: 'text', text: 'echo: hello there' }]);
    expect(message.stop_reason).toBe('end_turn');
    expect(message.id).toMatch(/^msg_/);
    expect(message.usage.output_tokens).toBe(3);
    const [request] = mock.received;
    expect(request?.path).toBe('/v1/messages');
    // SDK 1.x speaks API version 2026-10-21 and sends the key as a bearer token.
    expect(request?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(request?.headers['anthropic-version']).toBe('2026-10-21');
  });

  it('answers output_config.format with a JSON document of the schema, and fills a tool schema\'s required properties', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string' }, days: { type: 'number' } }, required: ['city', 'days'], additionalProperties: false };
    const structured = await client.messages.create({ model: MODEL, max_tokens: 100, messages: user('two days in Oslo'), output_config: { format: { type: 'json_schema', schema } } });
    expect(JSON.parse((structured.content[0] as { text: string }).text)).toEqual({ city: 'two days in Oslo', days: 4 });
    const called = await client.messages.create({ model: MODEL, max_tokens: 100, messages: user('Oslo'), tools: [{ name: 'json', input_schema: schema as Anthropic.Tool.InputSchema }] });
    expect(called.content).toEqual([expect.objectContaining({ type: 'tool_use', name: 'json', input: { city: 'Oslo', days: 1 } })]);
  });

  it('joins text blocks and counts images', async () => {
    const message = await client.messages.create({
      model: MODEL,
      max_tokens: 100,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }] }],
    });
    expect(message.content[0]).toMatchObject({ text: 'echo: look [image]' });
  });

  it('streams events in the documented order; the SDK helper accumulates the message', async () => {
    const stream = client.messages.stream({ model: MODEL, max_tokens: 100, messages: user('one two three') });
    const types: string[] = [];
    stream.on('streamEvent', (event) => types.push(event.type));
    const final = await stream.finalMessage();
    expect(final.content).toHaveLength(1);
    expect(final.content[0]).toMatchObject({ type: 'text', text: 'echo: one two three' });
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.output_tokens).toBe(4);
    expect(types[0]).toBe('message_start');
    expect(types[1]).toBe('content_block_start');
    expect(types.filter((t) => t === 'content_block_delta')).toHaveLength(4);
    expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
  });

  it('frames every event as event: X / data: {type: X} with a ping, and no [DONE]', async () => {
    const response = await fetch(`${mock.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, max_tokens: 50, stream: true, messages: user('raw') }),
    });
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('request-id')).toMatch(/^req_/);
    const text = await response.text();
    expect(text).not.toContain('[DONE]');
    const frames = text.split('\n\n').filter((f) => f !== '');
    for (const frame of frames) {
      const match = /^event: (\w+)\ndata: (.+)$/.exec(frame);
      expect(match).not.toBeNull();
      expect(JSON.parse(match?.[2] ?? '').type).toBe(match?.[1]);
    }
    expect(frames.some((f) => f.startsWith('event: ping\n'))).toBe(true);
  });

  it('calls tools, in parallel when asked, streamed and not', async () => {
    const single = await client.messages.create({ model: MODEL, max_tokens: 100, messages: user('find cats'), tools });
    expect(single.stop_reason).toBe('tool_use');
    expect(single.content).toEqual([{ type: 'tool_use', id: expect.stringMatching(/^toolu_/), name: 'lookup', input: { input: 'find cats' } }]);

    const parallel = await client.messages.stream({ model: MODEL, max_tokens: 100, messages: user('both in parallel'), tools }).finalMessage();
    expect(parallel.stop_reason).toBe('tool_use');
    expect(parallel.content.map((b) => b.type === 'tool_use' && [b.name, b.input])).toEqual([
      ['lookup', { input: 'both in parallel' }],
      ['search', { input: 'both in parallel' }],
    ]);

    const serial = await client.messages.create({
      model: MODEL,
      max_tokens: 100,
      messages: user('both in parallel'),
      tools,
      tool_choice: { type: 'auto', disable_parallel_tool_use: true },
    });
    expect(serial.content).toHaveLength(1);
    const forced = await client.messages.create({ model: MODEL, max_tokens: 100, messages: user('x'), tools, tool_choice: { type: 'tool', name: 'search' } });
    expect(forced.content[0]).toMatchObject({ type: 'tool_use', name: 'search' });
  });

  it('streams a scripted text block before the tool block', async () => {
    mock.script({ reply: 'Let me check.', toolCalls: [{ name: 'lookup', arguments: { city: 'Paris' } }] });
    const final = await client.messages.stream({ model: MODEL, max_tokens: 100, messages: user('weather?'), tools }).finalMessage();
    expect(final.content).toMatchObject([
      { type: 'text', text: 'Let me check.' },
      { type: 'tool_use', name: 'lookup', input: { city: 'Paris' } },
    ]);
  });

  it('answers tool results, max_tokens and stop sequences', async () => {
    const result = await client.messages.create({
      model: MODEL,
      max_tokens: 100,
      tools,
      messages: [
        { role: 'user', content: 'find cats' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'lookup', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: '3 cats' }] }] },
      ],
    });
    expect(result.content[0]).toMatchObject({ type: 'text', text: 'tool result: 3 cats' });

    const short = await client.messages.create({ model: MODEL, max_tokens: 2, messages: user('a b c d') });
    expect(short.content[0]).toMatchObject({ text: 'echo: a' });
    expect(short.stop_reason).toBe('max_tokens');

    const stopped = await client.messages.create({ model: MODEL, max_tokens: 100, messages: user('red STOP blue'), stop_sequences: ['STOP'] });
    expect(stopped.content[0]).toMatchObject({ text: 'echo: red ' });
    expect(stopped).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: 'STOP' });
  });

  it('takes a mid-conversation system message right after a user turn, answering the user, and refuses one anywhere else', async () => {
    const ok = await client.messages.create({ model: MODEL, max_tokens: 20, messages: [{ role: 'user', content: 'hi' }, { role: 'system', content: 'be brief' }] });
    expect(ok.content[0]).toMatchObject({ text: 'echo: hi' });
    const misplaced = client.messages.create({ model: MODEL, max_tokens: 20, messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }] });
    await expect(misplaced).rejects.toMatchObject({ status: 400, error: { error: { message: 'messages.0: a system message must immediately follow a user message' } } });
  });

  it('refuses two tools of one name, in Anthropic\'s words', async () => {
    const refused = client.messages.create({ model: MODEL, max_tokens: 20, messages: user('x'), tools: [tools[0]!, { ...tools[1]!, name: 'lookup' }] });
    await expect(refused).rejects.toMatchObject({ status: 400, error: { error: { type: 'invalid_request_error', message: 'tools: Tool names must be unique.' } } });
    expect((await client.messages.create({ model: MODEL, max_tokens: 20, messages: user('x'), tools })).stop_reason).toBe('tool_use');
  });

  it('refuses a tool_choice naming no declared tool, and any but none without tools, in Anthropic\'s words', async () => {
    const undeclared = client.messages.create({ model: MODEL, max_tokens: 20, messages: user('x'), tools, tool_choice: { type: 'tool', name: 'missing' } });
    await expect(undeclared).rejects.toMatchObject({ status: 400, error: { error: { type: 'invalid_request_error', message: "Tool 'missing' not found in provided tools" } } });
    for (const type of ['any', 'auto'] as const) {
      const toolless = client.messages.create({ model: MODEL, max_tokens: 20, messages: user('x'), tool_choice: { type } });
      await expect(toolless).rejects.toMatchObject({ status: 400, error: { error: { type: 'invalid_request_error', message: 'tool_choice may only be specified while providing tools.' } } });
    }
    const toolless = client.messages.create({ model: MODEL, max_tokens: 20, messages: user('x'), tool_choice: { type: 'tool', name: 'lookup' } });
    await expect(toolless).rejects.toMatchObject({ status: 400 });
    expect((await client.messages.create({ model: MODEL, max_tokens: 20, messages: user('x'), tool_choice: { type: 'none' } })).stop_reason).toBe('end_turn');
    const forced = await client.messages.create({ model: MODEL, max_tokens: 20, messages: user('x'), tools, tool_choice: { type: 'tool', name: 'search' } });
    expect(forced.content).toMatchObject([{ type: 'tool_use', name: 'search' }]);
  });

  it('lists models', async () => {
    const ids = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toEqual(['claude-sonnet-4-6', 'claude-haiku-4-5']);
  });
});

describe('anthropic mock: API versions', () => {
  const post = (version: string, body: Record<string, unknown>) =>
    fetch(`${mock.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'anthropic-version': version, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, max_tokens: 20, messages: user('hi'), ...body }),
    });

  it('accepts x-api-key with 2023-06-01, sampling parameters included', async () => {
    const response = await post('2023-06-01', { temperature: 0.2, top_p: 0.9 });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ content: [{ type: 'text', text: 'echo: hi' }] });
  });

  it('refuses sampling parameters under 2026-10-21', async () => {
    const response = await post('2026-10-21', { temperature: 1 });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { type: 'invalid_request_error', message: 'temperature: Extra inputs are not permitted' } });
  });
});

describe('anthropic mock: errors', () => {
  it('requires anthropic-version and a known x-api-key', async () => {
    const response = await fetch(`${mock.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, max_tokens: 5, messages: user('x') }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' }, request_id: expect.any(String) });

    const bad = new Anthropic({ apiKey: 'sk-ant-wrong', baseURL: mock.url, maxRetries: 0 });
    const err = await bad.messages.create({ model: MODEL, max_tokens: 5, messages: user('x') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
    expect(err).toMatchObject({ status: 401, error: { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } } });
  });

  it('surfaces 429 with Retry-After and 529 overloaded_error as typed errors', async () => {
    mock.script({ status: 429, retryAfter: 3 }, { status: 529 });
    const limited = await client.messages.create({ model: MODEL, max_tokens: 5, messages: user('x') }).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(Anthropic.RateLimitError);
    expect((limited as InstanceType<typeof Anthropic.RateLimitError>).headers?.get('retry-after')).toBe('3');
    const overloaded = await client.messages.create({ model: MODEL, max_tokens: 5, messages: user('x') }).catch((e: unknown) => e);
    expect(overloaded).toBeInstanceOf(Anthropic.InternalServerError);
    expect(overloaded).toMatchObject({ status: 529, error: { error: { type: 'overloaded_error', message: 'Overloaded' } } });
  });

  it('sends event: error mid-stream, which the SDK throws', async () => {
    mock.script({ midStreamError: { afterChunks: 4 } });
    const stream = client.messages.stream({ model: MODEL, max_tokens: 100, messages: user('a b c d e') });
    const texts: string[] = [];
    stream.on('text', (t) => texts.push(t));
    const err = await stream.finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err).toMatchObject({ error: { type: 'error', error: { type: 'overloaded_error' } } });
    expect(texts).toEqual(['echo: ']);
  });
});
