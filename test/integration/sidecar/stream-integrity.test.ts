/**
 * What reaches the client is well-formed: a malformed frame from an OpenAI-format upstream passed
 * through natively is replaced by the sidecar's own error frame (the SDK raises an APIError, not
 * a JSON error), nothing follows `[DONE]`, and request bodies that are not UTF-8 (or nest too
 * deep) are refused with a 400 in the client's shape before any provider sees them.
 *
 * The upstream here is a bare HTTP server writing exact bytes: the faults under test are ones no
 * provider mock should be able to produce by accident.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackDir, startStack, type Stack } from './harness.js';

let stack: Stack;
let upstream: Server;
let script: (res: ServerResponse) => void = () => undefined;
let received = 0;
/** The last request body the upstream got. */
let lastBody = '';

const chunk = (delta: object, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    received += 1;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      lastBody = Buffer.concat(chunks).toString('utf8');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      script(res);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const port = (upstream.address() as { port: number }).port;
  stack = await startStack(await stackDir(), {
    version: 1,
    sandbox: { name: 'integrity' },
    providers: [{ name: 'raw', type: 'openai-compatible', baseURL: `http://127.0.0.1:${port}/v1`, retries: { maxAttempts: 1 }, models: [{ name: 'm' }] }],
  });
});

afterAll(async () => {
  await stack?.close();
  upstream?.closeAllConnections();
  await new Promise((resolve) => upstream?.close(resolve));
});

const rawStream = async () => {
  const response = await stack.fetch('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }) });
  return response.text();
};

describe('a malformed frame after content in a pass-through stream', () => {
  it('ends the stream with the sidecar error frame, which the OpenAI SDK raises as an APIError', async () => {
    script = (res) => res.end(chunk({ role: 'assistant', content: '' }) + chunk({ content: 'Hello' }) + 'data: {"id":"chatcmpl-x","choices":[{"delta":{"content":\n\n' + chunk({ content: ' world' }) + 'data: [DONE]\n\n');
    const stream = await stack.openai().chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    const error = await (async () => {
      for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => e);
    expect(text).toBe('Hello');
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as Error).message).toContain('malformed');

    const wire = await rawStream();
    expect(wire).not.toContain('"content":\n');
    expect(wire).toMatch(/data: \{"error":\{[^\n]*malformed[^\n]*\}\}\n\n$/);
  });
});

describe('an upstream whose connection breaks after [DONE]', () => {
  it('leaves [DONE] the last frame the client sees', async () => {
    script = (res) => {
      res.write(chunk({ role: 'assistant', content: '' }) + chunk({ content: 'Hi' }) + chunk({}, 'stop') + 'data: [DONE]\n\n');
      setTimeout(() => res.socket?.resetAndDestroy(), 20);
    };
    const wire = await rawStream();
    expect(wire.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(wire).not.toContain('error');
  });

  it('ignores bytes sent after [DONE]', async () => {
    script = (res) => res.end(chunk({ role: 'assistant', content: '' }) + chunk({ content: 'Hi' }) + chunk({}, 'stop') + 'data: [DONE]\n\ndata: {not json\n\n');
    const wire = await rawStream();
    expect(wire.endsWith('data: [DONE]\n\n')).toBe(true);
  });
});

/** Calls of the raw provider whose usage the sidecar estimated, from its metrics. */
async function estimatedCalls(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${stack.sidecar.adminPort}/metrics`)).text();
  return Number(/airlock_usage_estimated_total\{provider="raw",model="m"\} (\d+)/.exec(text)?.[1] ?? 0);
}

/** Observations of `gen_ai_client_token_usage` (output tokens, any provider), from the sidecar's metrics. */
async function tokenUsagePoints(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${stack.sidecar.adminPort}/metrics`)).text();
  return Number(/gen_ai_client_token_usage_count\{[^}]*gen_ai_token_type="output"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
}

describe('a stream whose provider reports no usage', () => {
  it('is estimated from its text and counted as estimated', async () => {
    const before = await estimatedCalls();
    const points = await tokenUsagePoints();
    // An OpenAI-compatible server that ignores stream_options.include_usage.
    script = (res) => res.end(chunk({ role: 'assistant', content: '' }) + chunk({ content: 'a'.repeat(400) }) + chunk({}, 'stop') + 'data: [DONE]\n\n');
    const stream = await stack.openai().chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    for await (const _ of stream);
    expect(await estimatedCalls()).toBe(before + 1);
    // The GenAI token-usage histogram is what the provider reported: an estimate is no point there.
    expect(await tokenUsagePoints()).toBe(points);
  });
});

describe('a plain answer whose provider reports no usage', () => {
  it('is estimated and counted as estimated, as a stream is, where it counted as 0 tokens and escaped the limits', async () => {
    const before = await estimatedCalls();
    const points = await tokenUsagePoints();
    script = (res) => res.end(JSON.stringify({ id: 'c1', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'b'.repeat(400) }, finish_reason: 'stop' }] }));
    const completion = await stack.openai().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    expect(completion.choices[0]!.message.content).toHaveLength(400);
    expect(await estimatedCalls()).toBe(before + 1);
    expect(await tokenUsagePoints()).toBe(points);
  });
});

describe('what only OpenAI serves, to an OpenAI-compatible server (vLLM takes neither)', () => {
  const completion = JSON.stringify({ id: 'c2', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
  const tool = (name: string) => ({ type: 'function' as const, function: { name, parameters: { type: 'object', properties: {} } } });

  it('narrows allowed_tools to the tools it names, in the mode given', async () => {
    script = (res) => res.end(completion);
    await stack.openai().chat.completions.create({ model: 'm', tools: [tool('a'), tool('b')], tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'required', tools: [{ type: 'function', function: { name: 'b' } }] } }, messages: [{ role: 'user', content: 'x' }] });
    const sent = JSON.parse(lastBody) as { tools: { function: { name: string } }[]; tool_choice: unknown };
    expect(sent.tools.map((t) => t.function.name)).toEqual(['b']);
    expect(sent.tool_choice).toBe('required');
  });

  it('refuses custom tools with a 400 naming them, before any call upstream', async () => {
    const before = received;
    const error = await stack.openai().chat.completions.create({ model: 'm', tools: [{ type: 'custom', custom: { name: 'shell' } }], messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 400, message: expect.stringContaining('custom tools can only be served by an OpenAI provider') });
    expect(received).toBe(before);
  });
});

describe('request bodies the sidecar refuses before routing', () => {
  const notUtf8 = (json: string) => {
    const at = json.indexOf('HERE');
    return Buffer.concat([Buffer.from(json.slice(0, at)), Buffer.from([0xff, 0xfe, 0x80]), Buffer.from(json.slice(at + 4))]);
  };

  it.each([
    ['OpenAI', '/v1/chat/completions', '{"model":"m","messages":[{"role":"user","content":"HERE"}]}', (body: Record<string, unknown>) => expect(body).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringContaining('UTF-8') } })],
    [
      'Anthropic',
      '/v1/messages',
      '{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"HERE"}]}',
      (body: Record<string, unknown>) => expect(body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('UTF-8') } }),
    ],
  ])('a body that is not UTF-8 gets a 400 in the %s shape and never reaches the provider', async (_api, path, json, check) => {
    const before = received;
    const response = await stack.fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: notUtf8(json) });
    expect(response.status).toBe(400);
    check((await response.json()) as Record<string, unknown>);
    expect(received).toBe(before);
  });

  it('a body nested deeper than any real request gets a 400', async () => {
    const deep = `{"model":"m","messages":[{"role":"user","content":"x"}],"metadata":${'['.repeat(200)}${']'.repeat(200)}}`;
    const response = await stack.fetch('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: deep });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { message: expect.stringContaining('nests deeper') } });
  });
});
