import { Ollama } from 'ollama';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mockEmbedding, startMock } from './index.js';
import type { MockProvider } from './index.js';

const MODEL = 'llama3.2:latest';
const tools = ['lookup', 'search'].map((name) => ({ type: 'function', function: { name, description: `${name} things`, parameters: { type: 'object', properties: {} } } }));

let mock: MockProvider;
let client: Ollama;

beforeAll(async () => {
  mock = await startMock('ollama');
  client = new Ollama({ host: mock.url });
});
afterAll(() => mock.close());
beforeEach(() => mock.reset());

const user = (content: string) => [{ role: 'user', content }];

describe('ollama mock: chat', () => {
  it('answers without streaming, with done_reason and counts', async () => {
    const response = await client.chat({ model: MODEL, messages: user('hello there'), stream: false });
    expect(response.message).toEqual({ role: 'assistant', content: 'echo: hello there' });
    expect(response).toMatchObject({ done: true, done_reason: 'stop', eval_count: 3 });
    expect(response.prompt_eval_count).toBeGreaterThan(0);
    expect(mock.received[0]?.path).toBe('/api/chat');
  });

  it('streams NDJSON deltas; the last line is done with the counts', async () => {
    const stream = await client.chat({ model: MODEL, messages: user('one two three'), stream: true });
    const parts = [];
    for await (const part of stream) parts.push(part);
    expect(parts.map((p) => p.message.content).join('')).toBe('echo: one two three');
    expect(parts.length).toBe(5);
    expect(parts.slice(0, -1).every((p) => !p.done)).toBe(true);
    expect(parts.at(-1)).toMatchObject({ done: true, done_reason: 'stop', eval_count: 4 });
  });

  it('frames the stream as application/x-ndjson, one JSON object per line', async () => {
    const response = await fetch(`${mock.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: MODEL, messages: user('raw') }) });
    expect(response.headers.get('content-type')).toBe('application/x-ndjson');
    const text = await response.text();
    expect(text.endsWith('}\n')).toBe(true);
    const lines = text.trimEnd().split('\n');
    expect(lines.map((l) => JSON.parse(l).done)).toEqual([false, false, true]);
  });

  it('calls tools whole with object arguments, in parallel when asked, and answers tool results', async () => {
    const single = await client.chat({ model: MODEL, messages: user('find cats'), tools, stream: false });
    expect(single.message.tool_calls).toEqual([{ function: { name: 'lookup', arguments: { input: 'find cats' } } }]);

    const stream = await client.chat({ model: MODEL, messages: user('both in parallel'), tools, stream: true });
    const calls = [];
    for await (const part of stream) calls.push(...(part.message.tool_calls ?? []));
    expect(calls.map((c) => c.function.name)).toEqual(['lookup', 'search']);

    const result = await client.chat({
      model: MODEL,
      stream: false,
      tools,
      messages: [...user('find cats'), { role: 'assistant', content: '', tool_calls: [{ function: { name: 'lookup', arguments: {} } }] }, { role: 'tool', content: '3 cats', tool_name: 'lookup' }],
    });
    expect(result.message.content).toBe('tool result: 3 cats');
  });

  it('truncates at num_predict with done_reason length', async () => {
    const response = await client.chat({ model: MODEL, messages: user('a b c d'), stream: false, options: { num_predict: 2 } });
    expect(response.message.content).toBe('echo: a');
    expect(response.done_reason).toBe('length');
  });

  it('keeps only the end of a prompt longer than num_ctx (4096 by default): the tools and system prompt go first', async () => {
    const messages = [{ role: 'system', content: 'rule '.repeat(5000) }, ...user('find cats')];
    const cut = await client.chat({ model: MODEL, messages, tools, stream: false });
    expect(cut.message).toEqual({ role: 'assistant', content: 'echo: find cats' });
    expect(cut.prompt_eval_count).toBe(4096);

    const whole = await client.chat({ model: MODEL, messages, tools, stream: false, options: { num_ctx: 8192 } });
    expect(whole.message.tool_calls).toEqual([{ function: { name: 'lookup', arguments: { input: 'find cats' } } }]);
    expect(whole.prompt_eval_count).toBe(5002);
  });

  it('cuts a last message longer than num_ctx to its last words', async () => {
    const response = await client.chat({ model: MODEL, messages: user('a b c d e f'), stream: false, options: { num_ctx: 3 } });
    expect(response.message.content).toBe('echo: d e f');
    expect(response.prompt_eval_count).toBe(3);
  });
});

describe('ollama mock: embed, list, errors', () => {
  it('embeds and lists models', async () => {
    const response = await client.embed({ model: 'nomic-embed-text:latest', input: ['alpha', 'beta'] });
    expect(response.embeddings).toEqual([mockEmbedding('alpha'), mockEmbedding('beta')]);
    const list = await client.list();
    expect(list.models.map((m) => m.name)).toEqual(['llama3.2:latest', 'nomic-embed-text:latest']);
  });

  it('surfaces scripted statuses as ResponseError with the error text', async () => {
    mock.script({ status: 503 });
    const err = await client.chat({ model: MODEL, messages: user('x'), stream: false }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ResponseError', status_code: 503, error: 'server busy, please try again.  maximum pending requests exceeded' });
  });

  it('ends a stream with an {"error"} line, which the client throws', async () => {
    mock.script({ midStreamError: { afterChunks: 1, message: 'model runner crashed' } });
    const stream = await client.chat({ model: MODEL, messages: user('a b c'), stream: true });
    const texts: string[] = [];
    const err = await (async () => {
      for await (const part of stream) texts.push(part.message.content);
    })().catch((e: unknown) => e);
    expect((err as Error).message).toBe('model runner crashed');
    expect(texts).toEqual(['echo: ']);
  });
});
