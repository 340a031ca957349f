/**
 * Request targets and methods an HTTP server must not be talked into treating as a proxy, in
 * hand-written bytes over the Unix socket and the loopback port: `CONNECT host:port` and
 * `Upgrade:` (a node:http server emits 'connect' and 'upgrade'; nothing may tunnel), absolute-form
 * targets naming another host (never fetched), `OPTIONS *`; and paths spelled to slip past a
 * path-based decision: the admin port's routes (metrics, the usage report, the MCP tool view) are
 * never served on the agent's doors however the path is written, and a Gemini `{model}` with
 * escaped slashes or dots selects no other model and no other upstream path. Every answer is
 * JSON (or nothing: a closed connection), with no stack trace or source path in it.
 */
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, realKeys, startProviderStack, type Stack } from './harness.js';
import type { MockProvider } from '../../mocks/index.js';
import { closing, exchange, expectNoInternals, parseResponses, request, responsesOf, type Door } from './raw-http.js';

let stack: Stack;
let mocks: Map<string, MockProvider>;
let close: () => Promise<void>;
let doors: Door[];
/** A TCP listener standing for the outside: nothing the agent sends may open a connection to it. */
let outside: Server;
let outsidePort: number;
let reachedOutside = 0;

beforeAll(async () => {
  outside = createServer((socket) => {
    reachedOutside++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => outside.listen(0, '127.0.0.1', resolve));
  outsidePort = (outside.address() as { port: number }).port;
  const port = await freePort();
  const started = await startProviderStack(['openai', 'gemini'], realKeys(['openai', 'gemini']), {
    sandbox: { name: 'http-targets' },
    listen: { loopbackPort: port },
  });
  ({ stack, close, mocks } = started);
  doors = [{ path: stack.socketPath }, { port }];
});

afterAll(async () => {
  await close?.();
  await new Promise((resolve) => outside?.close(resolve));
});

const hostOf = (door: Door) => ('port' in door ? `127.0.0.1:${door.port}` : 'airlock');
const received = () => [...mocks.values()].flatMap((m) => m.received);

/** Sends `head` (+ body) then a closing request; the responses read off the connection. */
async function ask(door: Door, head: string[], body = '') {
  const text = await exchange(door, request(head, body), closing(hostOf(door)));
  expectNoInternals(text, expect);
  return { text, responses: parseResponses(text) };
}

describe.each([0, 1])('door %i (0: the Unix socket, 1: the loopback port)', (which) => {
  const door = () => doors[which]!;

  it('does not tunnel CONNECT: nothing reaches the named host, the connection gets no 2xx', async () => {
    const before = reachedOutside;
    const { responses } = await ask(door(), [`CONNECT 127.0.0.1:${outsidePort} HTTP/1.1`, `Host: 127.0.0.1:${outsidePort}`]);
    expect(responses.every((r) => r.status >= 400)).toBe(true);
    expect(reachedOutside).toBe(before);
  });

  it.each([
    ['websocket', ['Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13']],
    ['h2c', ['Upgrade: h2c', 'Connection: Upgrade, HTTP2-Settings', 'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA']],
  ])('does not switch protocols on Upgrade: %s (no 101, the request answered as plain HTTP or refused); what follows is never run as a request', async (_what, upgrade) => {
    for (const m of mocks.values()) m.reset();
    const host = hostOf(door());
    const hiddenBody = JSON.stringify({ model: 'via-openai', messages: [{ role: 'user', content: 'AFTER-UPGRADE' }] });
    const after = request(['POST /v1/chat/completions HTTP/1.1', `Host: ${host}`, 'Content-Type: application/json', `Content-Length: ${hiddenBody.length}`], hiddenBody);
    const { text, responses } = await responsesOf(door(), 1, request(['GET /v1/models HTTP/1.1', `Host: ${host}`, ...upgrade]), after);
    expectNoInternals(text, expect);
    expect(text).not.toMatch(/^HTTP\/1\.1 101/m);
    expect(responses.length).toBeGreaterThan(0);
    for (const r of responses) expect(() => JSON.parse(r.body)).not.toThrow();
    // The answer to the one request, and nothing of the bytes after it: no upstream call.
    expect((await stack.fetch('/healthz')).status).toBe(200);
    expect(received().filter((r) => r.rawBody.includes('AFTER-UPGRADE'))).toEqual([]);
  });

  it('never fetches an absolute-form target: the other host sees nothing (on the socket it names the sidecar’s own route, RFC 9112 §3.2.2)', async () => {
    const before = reachedOutside;
    for (const m of mocks.values()) m.reset();
    const body = JSON.stringify({ model: 'via-openai', messages: [{ role: 'user', content: 'absolute' }] });
    const target = `http://127.0.0.1:${outsidePort}/v1/chat/completions`;
    const { responses } = await ask(door(), [`POST ${target} HTTP/1.1`, `Host: 127.0.0.1:${outsidePort}`, 'Content-Type: application/json', `Content-Length: ${body.length}`], body);
    expect(reachedOutside).toBe(before);
    const status = responses[0]!.status;
    // The loopback port refuses the foreign Host (DNS rebinding guard); the socket answers its own route.
    if (which === 1) expect(status).toBe(403);
    else expect([200, 400]).toContain(status);
    expect(received().every((r) => r.path === '/v1/chat/completions')).toBe(true);
  });

  it.each(['OPTIONS *', 'TRACE /v1/models', 'GET *', 'PRI *'])('answers %s with an error in JSON, nothing echoed', async (line) => {
    const { responses, text } = await ask(door(), [`${line} HTTP/1.1`, `Host: ${hostOf(door())}`, 'X-Echo-Me: 9f8e7d']);
    expect(responses[0]?.status ?? 400).toBeGreaterThanOrEqual(400);
    expect(text).not.toContain('9f8e7d');
  });

  const ADMIN = ['/metrics', '/usage', '/mcp/tools'];
  const spellings = (path: string) => [
    path,
    `/${path}`,
    `/.${path}`,
    `${path}/`,
    `${path}?x=1`,
    `${path};x`,
    `/v1/..${path}`,
    `/%2e${path}`,
    `/${encodeURIComponent(path[1]!)}${path.slice(2)}`,
    path.toUpperCase(),
    `${path}%00`,
    `${path}#x`,
  ];

  it.each(ADMIN)('does not serve the admin route %s on the agent’s doors, however it is spelled', async (path) => {
    for (const target of spellings(path)) {
      const { responses, text } = await ask(door(), [`GET ${target} HTTP/1.1`, `Host: ${hostOf(door())}`]);
      expect(responses[0]!.status, `${target}: ${text.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
      // Prometheus text, the operator's report, the tool view.
      expect(text, target).not.toMatch(/# HELP|airlock_|"credentialsRejected"|"instance"|"backends"/);
    }
  });

  it.each([
    '/v1beta/models/via-gemini%2F..%2Fother:generateContent',
    '/v1beta/models/..%2Fvia-gemini:generateContent',
    '/v1beta/models/via-gemini%3FstreamGenerateContent:generateContent',
    '/v1beta/models/via-gemini/..:generateContent',
    '/v1beta/models/%2e%2e/v1beta/models/via-gemini:generateContent',
    '/v1beta/models/via-gemini%23:generateContent',
  ])('selects no model and calls no upstream path through %s', async (target) => {
    for (const m of mocks.values()) m.reset();
    const body = JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] });
    const { responses } = await ask(door(), [`POST ${target} HTTP/1.1`, `Host: ${hostOf(door())}`, 'Content-Type: application/json', `Content-Length: ${body.length}`], body);
    expect(responses[0]!.status).toBeGreaterThanOrEqual(400);
    expect(JSON.parse(responses[0]!.body)).toMatchObject({ error: { code: responses[0]!.status } });
    expect(received()).toEqual([]);
  });

  it('answers a Gemini call on the served model with the upstream path of that model only', async () => {
    for (const m of mocks.values()) m.reset();
    const body = JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] });
    const { responses } = await ask(door(), ['POST /v1beta/models/via-gemini:generateContent?key=x&alt=json HTTP/1.1', `Host: ${hostOf(door())}`, 'Content-Type: application/json', `Content-Length: ${body.length}`], body);
    expect(responses[0]!.status).toBe(200);
    expect(received().map((r) => r.path)).toEqual(['/v1beta/models/via-gemini:generateContent']);
  });

  it('answers a very long path and query with an error, and keeps answering', async () => {
    const long = `/v1/models/${'a'.repeat(20_000)}?${'q=1&'.repeat(5_000)}`;
    const text = await exchange(door(), request([`GET ${long} HTTP/1.1`, `Host: ${hostOf(door())}`, 'Connection: close']));
    expectNoInternals(text, expect);
    const responses = parseResponses(text);
    expect(responses[0]!.status).toBeGreaterThanOrEqual(400);
    expect(text.length).toBeLessThan(4096);
    expect((await stack.fetch('/healthz')).status).toBe(200);
  });
});
