import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChatCompletionStream } from 'openai/lib/ChatCompletionStream';
import { Stream } from 'openai/core/streaming';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BASE_URLS, PROVIDER_TYPES, type ProviderType } from '../config/schema.js';
import { ChatRequest, chunkToSSE, EmbeddingsRequest, SSE_DONE, type ChatCompletionChunk } from '../wire/openai.js';
import { adapterFor } from './index.js';
import { cleanMessage } from './shared/errors.js';
import { idWithSignature, MAX_SIGNATURES, signatureFromId } from './gemini/signature.js';
import { translate } from './testing/golden.js';
import { StreamError, type TranslateContext, type UpstreamTarget } from './types.js';

const KEY = 'sk-ant-api03-SECRETSECRETSECRET-0123456789abcdef';
const context: TranslateContext = { requestedModel: 'agent-model', id: 'chatcmpl-x1y2z3', created: 1 };
const target = (type: ProviderType): UpstreamTarget => ({
  baseURL: DEFAULT_BASE_URLS[type] ?? 'http://compatible.local/v1',
  apiKey: KEY,
  model: 'm',
  headers: { authorization: 'Bearer not-from-config', 'x-api-key': 'nope', 'X-Extra': '1' },
});
const encoder = new TextEncoder();

describe('adapters', () => {
  it('exist for every provider type, each reporting its type', () => {
    for (const type of PROVIDER_TYPES) expect(adapterFor(type).type).toBe(type);
  });

  it('put the key in the authentication header only, which configured headers cannot replace', () => {
    const chat = ChatRequest.parse({ model: 'x', messages: [{ role: 'user', content: 'hi' }] });
    const embeddings = EmbeddingsRequest.parse({ model: 'x', input: 'hi' });
    for (const type of PROVIDER_TYPES) {
      const adapter = adapterFor(type);
      const built = [adapter.chatRequest(chat, target(type)), adapter.modelsRequest(target(type))];
      if (adapter.embeddingsRequest) built.push(adapter.embeddingsRequest(embeddings, target(type)));
      for (const request of built) {
        const { headers, ...rest } = request;
        expect(JSON.stringify(rest), `${type} ${request.url}`).not.toContain(KEY);
        const carrying = Object.entries(headers).filter(([, v]) => v.includes(KEY));
        expect(carrying.map(([name]) => name), type).toEqual([{ anthropic: 'x-api-key', gemini: 'x-goog-api-key' }[type as string] ?? 'authorization']);
        expect(headers['x-extra']).toBe('1');
      }
    }
  });

  it('never repeat a key a provider echoes in an error, in any form', () => {
    const bodies = [
      JSON.stringify({ error: { message: `Incorrect API key provided: ${KEY}.`, type: 'invalid_request_error' } }),
      JSON.stringify({ type: 'error', error: { type: 'authentication_error', message: `invalid x-api-key ${KEY}` } }),
      JSON.stringify({ error: { code: 400, message: 'API key AIzaSyA-1234567890abcdefghijklmnopqrstu is invalid', status: 'INVALID_ARGUMENT' } }),
      JSON.stringify({ error: `unauthorized: Bearer ${KEY}` }),
    ];
    for (const type of PROVIDER_TYPES) {
      for (const body of bodies) {
        const error = adapterFor(type).error(401, body);
        expect(error.message, type).not.toMatch(/SECRET|AIzaSy|sk-ant/);
      }
    }
    expect(cleanMessage('key sk-proj-****abcd. Next')).toBe('key [REDACTED]. Next');
    expect(cleanMessage('x'.repeat(5000))).toHaveLength(2001);
  });
});

describe('stream framing', () => {
  const sse = (text: string) => translate(adapterFor('openai').chatStream(context), [encoder.encode(text)]);
  const chunk = (content: string) => JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'x', choices: [{ index: 0, delta: { content }, finish_reason: content ? null : 'stop' }] });

  it('ignores SSE comments and retry fields, and reads a last event that lacks its blank line', () => {
    const result = sse(`: keep-alive\n\nretry: 1000\n\ndata: ${chunk('a')}\r\n\r\ndata: ${chunk('')}\n`);
    expect(result.error).toBeUndefined();
    expect(result.chunks.map((c) => c.choices[0]?.delta.content)).toEqual(['a', '']);
  });

  it('reports a frame larger than the limit instead of buffering without end', () => {
    const translator = adapterFor('ollama').chatStream(context);
    const big = new Uint8Array(1024 * 1024).fill(0x61);
    expect(() => {
      for (let i = 0; i < 17; i++) translator.push(big);
    }).toThrow(StreamError);
  });

  it('keeps failing after a stream error, so a router cannot read past it', () => {
    const translator = adapterFor('anthropic').chatStream(context);
    const error = 'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"boom"}}\n\n';
    expect(() => translator.push(encoder.encode(error))).toThrow(StreamError);
    expect(() => translator.push(encoder.encode('event: ping\ndata: {"type":"ping"}\n\n'))).toThrow(StreamError);
    expect(() => translator.end()).toThrow(StreamError);
  });

  it('refuses data that is not JSON with a message naming the provider', () => {
    const result = translate(adapterFor('gemini').chatStream(context), [encoder.encode('data: <html>\n\n')]);
    expect(result.error).toMatchObject({ class: 'StreamError', status: 502, message: 'gemini stream: malformed JSON in stream data: "<html>"' });
  });
});

describe('Gemini thought signatures beside tool call ids', () => {
  it('come back exactly for the id they were kept under, which stays as it was made', () => {
    for (const [n, signature] of ['CiQB', 'CiQBzT0+/x9Y2Q==', 'a+/b'.repeat(300)].entries()) {
      const id = idWithSignature(`call_sigtest_${n}`, signature);
      expect(id).toBe(`call_sigtest_${n}`);
      expect(signatureFromId(id)).toBe(signature);
    }
    expect(signatureFromId('call_unknown_0')).toBeUndefined();
  });

  it('are forgotten oldest first beyond the bound', () => {
    idWithSignature('call_oldest_0', 'sig-oldest');
    for (let i = 0; i < MAX_SIGNATURES; i++) idWithSignature(`call_fill_${i}`, 'sig');
    expect(signatureFromId('call_oldest_0')).toBeUndefined();
    expect(signatureFromId(`call_fill_${MAX_SIGNATURES - 1}`)).toBe('sig');
  });

  it('are still read from ids made by older sidecars', () => {
    expect(signatureFromId('call_abc_0__sig_CiQBzT0-_x9Y2Q')).toBe('CiQBzT0+/x9Y2Q==');
  });
});

describe('canonical streams, read by the OpenAI SDK', () => {
  // Every successful stream fixture of every adapter, framed as the server frames it, must be
  // accepted by the official client and accumulate to the same content and tool calls.
  const fixtures = ['openai', 'anthropic', 'gemini', 'ollama'].flatMap((folder) => {
    const dir = join(import.meta.dirname, folder, 'golden');
    return readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => ({ folder, dir, data: JSON.parse(readFileSync(join(dir, f), 'utf8')) as { call: string; raw: string; expected: { chunks: ChatCompletionChunk[]; error?: unknown } } }))
      .filter((f) => f.data.call === 'chatStream' && !f.data.expected.error);
  });

  it.each(fixtures.map((f) => [`${f.folder}/${f.data.raw}`, f] as const))('%s', async (_name, fixture) => {
    const { chunks } = translate(adapterFor(fixture.folder as ProviderType).chatStream(context), [readFileSync(join(fixture.dir, fixture.data.raw))]);
    const text = chunks.map((c) => chunkToSSE(c)).join('') + SSE_DONE;
    const stream = Stream.fromSSEResponse<ChatCompletionChunk>(new Response(text), new AbortController());
    const completion = await ChatCompletionStream.fromReadableStream(stream.toReadableStream()).finalChatCompletion();
    const content = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(completion.choices[0]?.message.content ?? '').toBe(content);
    const calls = new Map<number, { name: string; args: string }>();
    for (const c of chunks) {
      for (const d of c.choices[0]?.delta.tool_calls ?? []) {
        const call = calls.get(d.index) ?? { name: '', args: '' };
        calls.set(d.index, { name: call.name + (d.function?.name ?? ''), args: call.args + (d.function?.arguments ?? '') });
      }
    }
    expect((completion.choices[0]?.message.tool_calls ?? []).map((t) => (t.type === 'function' ? { name: t.function.name, args: t.function.arguments } : t))).toEqual([...calls.values()]);
    expect(completion.choices[0]?.finish_reason).toBe(chunks.flatMap((c) => c.choices).find((c) => c.finish_reason)?.finish_reason);
  });
});
