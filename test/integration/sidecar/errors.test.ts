/**
 * Bad input gets a clear error in the shape of the API the client speaks: 413 for oversized
 * bodies, 400 for malformed JSON and invalid requests, 404 for unknown or disallowed models.
 */
import { connect } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { stackDir, startStack, type Stack } from './harness.js';

let stack: Stack;
let mock: MockProvider;
const MAX_BODY = 64 * 1024;

beforeAll(async () => {
  mock = await startMock('ollama');
  stack = await startStack(await stackDir(), {
    version: 1,
    sandbox: { name: 'errors' },
    listen: { maxBodyBytes: MAX_BODY },
    providers: [{ name: 'local', type: 'ollama', baseURL: mock.url, models: [{ name: 'llama3.2' }, { name: 'secret-model' }] }],
    models: { allow: ['llama*'], aliases: { fast: 'llama3.2' } },
  });
});

afterAll(async () => {
  await stack?.close();
  await mock?.close();
});

async function post(path: string, body: string, headers: Record<string, string> = {}) {
  const response = await stack.fetch(path, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const openAIShape = { error: { message: expect.any(String), type: expect.any(String) } };
const anthropicShape = { type: 'error', error: { type: expect.any(String), message: expect.any(String) } };

describe('OpenAI API errors', () => {
  it('413 for an oversized body', async () => {
    const huge = JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'x'.repeat(MAX_BODY * 2) }] });
    const { status, body } = await post('/v1/chat/completions', huge);
    expect(status).toBe(413);
    expect(body).toMatchObject(openAIShape);
    expect(mock.received).toHaveLength(0);
  });

  it('400 for malformed JSON', async () => {
    const { status, body } = await post('/v1/chat/completions', '{"model": "llama3.2", "messages": [');
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringContaining('not valid JSON') } });
  });

  it('400 naming the field for an invalid request', async () => {
    const { status, body } = await post('/v1/chat/completions', JSON.stringify({ model: 'llama3.2', messages: 'hello' }));
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringMatching(/^messages/), param: 'messages' } });
  });

  it('404 for an unknown model, through the SDK', async () => {
    const error = await stack.openai().chat.completions.create({ model: 'gpt-nope', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as InstanceType<typeof OpenAI.NotFoundError>).error).toMatchObject({ code: 'model_not_found', message: expect.stringContaining("'gpt-nope'") });
  });

  it('404 for an unknown model repeats at most 256 characters of its name', async () => {
    const long = `gpt-${'x'.repeat(10_000)}`;
    const error = await stack.openai().chat.completions.create({ model: long, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    const { message } = (error as InstanceType<typeof OpenAI.NotFoundError>).error as { message: string };
    expect(message).toContain(`'${long.slice(0, 256)}…'`);
    expect(message.length).toBeLessThan(400);
  });

  it('404 for a model the sandbox does not allow, and it is not listed', async () => {
    const error = await stack.openai().chat.completions.create({ model: 'secret-model', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    const models = await stack.openai().models.list();
    expect(models.data.map((m) => m.id).sort()).toEqual(['fast', 'llama3.2']);
  });

  it('answers through an alias', async () => {
    const completion = await stack.openai().chat.completions.create({ model: 'fast', messages: [{ role: 'user', content: 'alias works' }] });
    expect(completion.choices[0]!.message.content).toBe('echo: alias works');
    expect(completion.model).toBe('fast');
  });

  it('404 in OpenAI shape for an unknown endpoint', async () => {
    const { status, body } = await post('/v1/nothing-here', '{}');
    expect(status).toBe(404);
    expect(body).toMatchObject(openAIShape);
    expect(JSON.stringify(body)).not.toContain('did you mean');
  });

  it.each([
    // LiteLLM's gemini/ with an api_base that lacks the version (ver17; Gemini's routes are served
    // under /v1 too), an OpenAI client's base URL without /v1.
    ['/models/fast:generateContent', '/v1'],
    ['/chat/completions', '/v1'],
  ])('404 for %s names the version prefix the base URL lacks', async (path, prefix) => {
    const { status, body } = await post(path, '{}');
    expect(status).toBe(404);
    expect(JSON.stringify(body)).toContain(`did you mean ${prefix}${path}? The client's base URL should end in ${prefix}`);
  });
});

describe('HTTP the parser refuses', () => {
  it('gets a 400 in the OpenAI shape, not a dropped connection', async () => {
    const socket = connect({ path: stack.socketPath });
    socket.end('GET /v1/models HTTP/1.1\r\nHost: airlock\r\nContent-Length: nope\r\n\r\n');
    let text = '';
    for await (const chunk of socket) text += String(chunk);
    expect(text).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))).toMatchObject(openAIShape);
  });
});

describe('Anthropic API errors', () => {
  const headers = { 'anthropic-version': '2023-06-01' };

  it('413 for an oversized body', async () => {
    const huge = JSON.stringify({ model: 'llama3.2', max_tokens: 10, messages: [{ role: 'user', content: 'x'.repeat(MAX_BODY * 2) }] });
    const { status, body } = await post('/v1/messages', huge, headers);
    expect(status).toBe(413);
    expect(body).toMatchObject({ type: 'error', error: { type: 'request_too_large' } });
  });

  it('400 for malformed JSON', async () => {
    const { status, body } = await post('/v1/messages', '{"model": ', headers);
    expect(status).toBe(400);
    expect(body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
  });

  it('400 for a request without max_tokens', async () => {
    const { status, body } = await post('/v1/messages', JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] }), headers);
    expect(status).toBe(400);
    expect(body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('max_tokens') } });
  });

  it('404 for an unknown model, through the SDK', async () => {
    const error = await stack.anthropic().messages.create({ model: 'claude-nope', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.NotFoundError);
    expect((error as InstanceType<typeof Anthropic.NotFoundError>).error).toMatchObject(anthropicShape);
  });
});
