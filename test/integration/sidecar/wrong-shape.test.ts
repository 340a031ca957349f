/**
 * A 200 whose body is not what Gemini or Ollama sends (a proxy's JSON, another API's answer) is
 * an error that fails over, as it is for OpenAI and Anthropic — never a successful empty answer.
 */
import { createServer, type Server } from 'node:http';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { keyFile, stackDir, startStack, type Stack } from './harness.js';

let stack: Stack;
let wrong: Server;
let fallback: MockProvider;
/** What `wrong` answers a plain call with; `{"status":"ok"}` unless a test sets it. */
let plainBody = '{"status":"ok"}';

beforeAll(async () => {
  // Answers every request with 200 and JSON of the wrong shape, streamed or not.
  wrong = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const streamed = (req.url ?? '').includes('alt=sse');
      const ollamaStream = req.url === '/api/chat' && !streamed;
      if (streamed) return res.writeHead(200, { 'content-type': 'text/event-stream' }).end('data: {"status":"ok"}\n\n');
      if (ollamaStream) return res.writeHead(200, { 'content-type': 'application/x-ndjson' }).end('{"status":"ok"}\n');
      res.writeHead(200, { 'content-type': 'application/json' }).end(plainBody);
    });
  });
  await new Promise<void>((resolve) => wrong.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(wrong.address() as { port: number }).port}`;
  fallback = await startMock('openai', { keys: ['sk-fallback-0123456789abcdef'] });
  const dir = await stackDir();
  const retries = { maxAttempts: 1 };
  stack = await startStack(dir, {
    version: 1,
    sandbox: { name: 'wrong-shape' },
    providers: [
      { name: 'gemini', type: 'gemini', baseURL: url, apiKeys: [{ file: await keyFile(dir, 'g', 'AIza-not-a-real-key-0123456789') }], retries, priority: 0, models: [{ name: 'via-gemini' }, { name: 'gemini-only' }] },
      { name: 'ollama', type: 'ollama', baseURL: url, retries, priority: 0, models: [{ name: 'via-ollama' }, { name: 'ollama-only' }] },
      { name: 'compatible', type: 'openai-compatible', baseURL: url, retries, priority: 0, models: [{ name: 'via-compatible' }] },
      { name: 'fallback', type: 'openai', baseURL: fallback.url, apiKeys: [{ file: await keyFile(dir, 'oa', 'sk-fallback-0123456789abcdef') }], retries, priority: 10, models: [{ name: 'via-gemini' }, { name: 'via-ollama' }, { name: 'via-compatible' }] },
    ],
  });
});

afterAll(async () => {
  await stack?.close();
  await fallback?.close();
  await new Promise((resolve) => wrong?.close(resolve));
});

describe.each(['gemini', 'ollama'])('a wrong-shape 200 from %s', (kind) => {
  it('fails over to the healthy fallback, plain and streamed', async () => {
    const client = stack.openai();
    const plain = await client.chat.completions.create({ model: `via-${kind}`, messages: [{ role: 'user', content: 'plain' }] });
    expect(plain.choices[0]!.message.content).toBe('echo: plain');
    const stream = await client.chat.completions.create({ model: `via-${kind}`, stream: true, messages: [{ role: 'user', content: 'streamed' }] });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('echo: streamed');
  });

  it('without a fallback, is a 5xx error the SDK raises', async () => {
    const error = await stack.openai().chat.completions.create({ model: `${kind}-only`, messages: [{ role: 'user', content: 'alone' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBeGreaterThanOrEqual(500);
    expect((error as Error).message).toContain(kind);
  });
});

describe('answers that are nearly right', () => {
  it.each([
    ['gemini', '{"candidates":[]}'],
    ['gemini', '{"candidates":[{}]}'],
    ['gemini', '{"candidates":[{"index":0}]}'],
    ['gemini', '{"candidates":[{"content":{}}]}'],
    ['compatible', '{"choices":[]}'],
    ['compatible', '{"choices":[{}]}'],
    ['compatible', '{"choices":[{"message":null}]}'],
  ])('a %s 200 of %s fails over for an Anthropic client, where it was an empty answer or a 500', async (kind, body) => {
    plainBody = body;
    try {
      const message = await stack.anthropic().messages.create({ model: `via-${kind}`, max_tokens: 64, messages: [{ role: 'user', content: 'nearly' }] });
      expect(message.content).toMatchObject([{ type: 'text', text: 'echo: nearly' }]);
    } finally {
      plainBody = '{"status":"ok"}';
    }
  });

  it("takes a whole completion without an id (some OpenAI-compatible servers send none) with the call's own id, where an Anthropic client got a 500", async () => {
    plainBody = JSON.stringify({ object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'no id here' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 } });
    try {
      const message = await stack.anthropic().messages.create({ model: 'via-compatible', max_tokens: 64, messages: [{ role: 'user', content: 'id?' }] });
      expect(message.id).toMatch(/^msg_/);
      expect(message.content).toMatchObject([{ type: 'text', text: 'no id here' }]);
    } finally {
      plainBody = '{"status":"ok"}';
    }
  });
});
