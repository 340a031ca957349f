/**
 * A hostile or broken server at a provider's baseURL (whoever may write a ModelProvider chooses
 * it): answers that never end, headers past any sane size, a `content-encoding: gzip` bomb, an
 * event that never ends its line. Whatever it sends, what the sidecar holds of one answer is
 * bounded: a whole answer it reads (a translated call's JSON, an error's body) up to a limit, past
 * which the connection is closed (the server sees its answer cut off), an event of a stream up to
 * 16 MiB; the agent gets an error in its SDK's shape, and the sidecar keeps answering. A plain
 * call's JSON passed through untouched is relayed as it comes past 16 MiB, at the pace the agent
 * reads it (relay/json-out.ts). Redirects are redirects.test.ts.
 */
import { gzipSync } from 'node:zlib';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stackDir, startStack, type Stack } from './harness.js';
import { expectNoInternals } from './raw-http.js';

const MiB = 1024 * 1024;
/** How much an endless answer sends before giving up on being cut off (above any bound the sidecar may hold). */
const GIVE_UP = 80 * MiB;

let stack: Stack;
let hostile: Server;
/** Per model: whether the sidecar closed the connection before the answer was over. */
const cut = new Map<string, boolean>();
/** Per model: bytes of the endless answer written so far (taken by the sidecar's connection). */
const poured = new Map<string, number>();

/** Writes `piece` until `total` bytes went or the peer closed; true when the peer closed first. */
async function pour(res: ServerResponse, piece: Buffer, total: number, onSent: (bytes: number) => void): Promise<boolean> {
  let closed = false;
  res.once('close', () => (closed = true));
  for (let sent = 0; sent < total && !closed; sent += piece.length) {
    onSent(sent);
    if (!res.write(piece)) await new Promise<void>((resolve) => {
      const done = () => (res.off('drain', done), res.off('close', done), resolve());
      res.on('drain', done);
      res.on('close', done);
    });
  }
  if (!closed) res.end();
  return closed;
}

const ONE_MIB = Buffer.alloc(MiB, 'a');

/** An answer of `status` that starts with `head` and goes on until the sidecar closes the connection (noted in `cut`). */
async function endless(res: ServerResponse, model: string, status: number, type: string, head: string): Promise<void> {
  res.writeHead(status, { 'content-type': type });
  res.write(head);
  cut.set(model, await pour(res, ONE_MIB, GIVE_UP, (bytes) => poured.set(model, bytes)));
}

async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
  let text = '';
  for await (const chunk of req) text += chunk;
  const { model } = JSON.parse(text) as { model: string };
  switch (model) {
    case 'endless-json':
      return endless(res, model, 200, 'application/json', '{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"');
    case 'endless-error':
      return endless(res, model, 500, 'application/json', '{"error":{"message":"');
    case 'endless-event-line':
      return endless(res, model, 200, 'text/event-stream', 'data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"');
    case 'huge-headers':
      res.writeHead(200, { 'content-type': 'application/json', 'x-filler': 'a'.repeat(200 * 1024) });
      res.end('{}');
      return;
    case 'gzip-bomb': {
      // 8 MiB of zeros compresses to a few KB; the answer claims to be gzip'd JSON.
      const bomb = gzipSync(Buffer.alloc(8 * MiB));
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': bomb.length });
      res.end(bomb);
      return;
    }
    default:
      res.writeHead(404).end();
  }
}

beforeAll(async () => {
  hostile = createServer((req, res) => void answer(req, res).catch(() => res.destroy()));
  await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(hostile.address() as AddressInfo).port}/v1`;
  stack = await startStack(await stackDir(), {
    version: 1,
    sandbox: { name: 'upstream-hostile' },
    providers: [
      {
        name: 'hostile',
        type: 'openai-compatible',
        baseURL: url,
        retries: { maxAttempts: 1 },
        models: ['endless-json', 'endless-error', 'endless-event-line', 'huge-headers', 'gzip-bomb'].map((name) => ({ name })),
      },
    ],
  });
});

afterAll(async () => {
  await stack?.close();
  hostile?.closeAllConnections();
  await new Promise((resolve) => hostile?.close(resolve));
});

const messages = [{ role: 'user' as const, content: 'hi' }];

/** The call's error, as the agent's SDK sees it: the OpenAI SDK's (the provider's own API), or the Anthropic SDK's (translated). */
async function failure(model: string, stream: boolean, sdk: 'openai' | 'anthropic' = 'openai'): Promise<{ status: number | undefined; message: string }> {
  const openai = stack.openai({ maxRetries: 0, timeoutMs: 120_000 });
  const anthropic = stack.anthropic({ maxRetries: 0, timeoutMs: 120_000 });
  const error = await (async () => {
    if (sdk === 'anthropic') return anthropic.messages.create({ model, messages, max_tokens: 100, stream });
    if (!stream) return openai.chat.completions.create({ model, messages });
    for await (const chunk of await openai.chat.completions.create({ model, messages, stream: true })) void chunk;
  })().catch((err: unknown) => err);
  expect(error, model).toBeInstanceOf(sdk === 'openai' ? OpenAI.APIError : Anthropic.APIError);
  expectNoInternals((error as Error).message, expect);
  return error as { status: number | undefined; message: string };
}

it.each([
  ['endless-json', false, 'anthropic'],
  ['endless-error', false, 'openai'],
  ['endless-error', true, 'openai'],
  ['endless-event-line', true, 'openai'],
] as const)('cuts an answer that never ends (%s, stream %s, through the %s SDK) at a bound: the server sees it cut off, the agent an error', async (model, stream, sdk) => {
  cut.delete(model);
  const error = await failure(model, stream, sdk);
  expect(error.status, error.message).toBeGreaterThanOrEqual(500);
  expect(error.message.length).toBeLessThan(4096);
  await expect.poll(() => cut.get(model), { timeout: 60_000 }).toBe(true);
  expect((await stack.fetch('/healthz')).status).toBe(200);
});

it('relays a plain answer it passes through that never ends at the pace the agent reads: an agent that stops reading stalls the server, and leaving closes it', async () => {
  cut.delete('endless-json');
  poured.delete('endless-json');
  const abort = new AbortController();
  const response = await stack.fetch('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'endless-json', messages }), signal: abort.signal });
  expect(response.status).toBe(200);
  // Nothing read: what the server managed to write stops growing once the sidecar's 16 MiB, the
  // sockets' buffers and the agent's are full.
  let last = -1;
  await expect.poll(async () => {
    const now = poured.get('endless-json') ?? 0;
    const settled = now === last;
    last = now;
    await new Promise((resolve) => setTimeout(resolve, 300));
    return settled && now > 0;
  }, { timeout: 60_000, interval: 0 }).toBe(true);
  expect(last).toBeLessThan(48 * MiB);
  abort.abort();
  await expect.poll(() => cut.get('endless-json'), { timeout: 60_000 }).toBe(true);
  expect((await stack.fetch('/healthz')).status).toBe(200);
});

it('refuses response headers past 16 KiB as a failed call, and keeps serving', async () => {
  const error = await failure('huge-headers', false);
  expect(error.message).toMatch(/response headers larger than/);
  expect(error.status).toBeGreaterThanOrEqual(500);
  expect((await stack.fetch('/healthz')).status).toBe(200);
});

it('does not inflate a gzip bomb: the compressed answer is not JSON, a failed call', async () => {
  const error = await failure('gzip-bomb', false);
  expect(error.status).toBeGreaterThanOrEqual(500);
  expect(error.message).toMatch(/malformed|unexpected/);
});
