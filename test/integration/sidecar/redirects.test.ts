/**
 * A provider (or whoever answers at its baseURL) that redirects cannot carry the key elsewhere
 * (ADR 0016: the host a Secret is bound to is the only place its key goes). The sidecar follows
 * no redirect: every keyed provider type, every 3xx that HTTP clients follow (301, 302, 303, 307,
 * 308), plain and streamed. The redirect target, another host and port, must never see a request;
 * the agent gets an error in its SDK's shape (the upstream's own message, as for any upstream
 * error), and no key reaches it or the log.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyFile, realKeys, stackDir, startStack, type Stack } from './harness.js';

const STATUSES = [301, 302, 303, 307, 308] as const;
const keys = realKeys(['openai', 'anthropic', 'gemini']) as Record<'openai' | 'anthropic' | 'gemini', string>;

let stack: Stack;
let redirector: Server;
let elsewhere: Server;
let elsewhereUrl: string;
/** What reached the redirect target: anything at all is a failure. */
const followed: IncomingHttpHeaders[] = [];
let status: number = STATUSES[0];

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

beforeAll(async () => {
  elsewhere = createServer((req, res) => {
    followed.push(req.headers);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  elsewhereUrl = await listen(elsewhere);
  // Answers every call with the current redirect status, pointing at the same path on another host.
  redirector = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(status, { location: `${elsewhereUrl}${req.url ?? '/'}`, 'content-type': 'text/plain' }).end(`moved to ${elsewhereUrl}`));
  });
  const url = await listen(redirector);
  const dir = await stackDir();
  const retries = { maxAttempts: 1 };
  stack = await startStack(dir, {
    version: 1,
    sandbox: { name: 'redirects' },
    providers: [
      { name: 'openai', type: 'openai', baseURL: `${url}/v1`, apiKeys: [{ file: await keyFile(dir, 'o', keys.openai) }], retries, models: [{ name: 'via-openai' }] },
      { name: 'anthropic', type: 'anthropic', baseURL: url, apiKeys: [{ file: await keyFile(dir, 'a', keys.anthropic) }], retries, models: [{ name: 'via-anthropic' }] },
      { name: 'gemini', type: 'gemini', baseURL: url, apiKeys: [{ file: await keyFile(dir, 'g', keys.gemini) }], retries, models: [{ name: 'via-gemini' }] },
    ],
  });
});

afterAll(async () => {
  await stack?.close();
  await new Promise((resolve) => redirector?.close(resolve));
  await new Promise((resolve) => elsewhere?.close(resolve));
});

describe.each(STATUSES)('an upstream answering %i with a Location on another host', (code) => {
  it.each(['openai', 'anthropic', 'gemini'] as const)('is not followed for a %s provider: the target sees nothing, the agent gets an error without the key', async (kind) => {
    status = code;
    const model = `via-${kind}`;
    const messages = [{ role: 'user' as const, content: 'hello' }];
    const plain = await stack.openai({ maxRetries: 0 }).chat.completions.create({ model, messages }).catch((e: unknown) => e);
    const streamed = await (async () => {
      const stream = await stack.openai({ maxRetries: 0 }).chat.completions.create({ model, messages, stream: true });
      for await (const chunk of stream) void chunk;
    })().catch((e: unknown) => e);
    const native = kind === 'anthropic' ? await stack.anthropic({ maxRetries: 0 }).messages.create({ model, max_tokens: 16, messages }).catch((e: unknown) => e) : undefined;
    expect(followed).toEqual([]);
    for (const error of [plain, streamed, ...(native ? [native] : [])]) {
      expect(error instanceof OpenAI.APIError || error instanceof Anthropic.APIError, `${kind} ${code}: ${String(error)}`).toBe(true);
      for (const key of Object.values(keys)) expect((error as Error).message).not.toContain(key);
    }
    const everything = stack.logs.join('\n');
    for (const key of Object.values(keys)) expect(everything).not.toContain(key);
  });
});
