/**
 * The loopback port's Host and Origin guard against DNS-rebinding shapes, in hand-written bytes:
 * a name that starts like the listener (`127.0.0.1:<port>.evil`), other spellings of loopback
 * (IPv4-mapped IPv6, decimal, `0.0.0.0`, a trailing dot), userinfo, no Host, two Hosts, an
 * absolute-form target naming another host, Origins that are `null`, https, another port or carry
 * a path. Each is refused (403) in the shape of the API its path belongs to, before any provider
 * is called; the listener's own names pass. (mcp-edge.test.ts covers the MCP SDK's view.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, realKeys, startProviderStack, type Stack } from './harness.js';
import type { MockProvider } from '../../mocks/index.js';
import { exchange, expectNoInternals, parseResponses, request } from './raw-http.js';

let stack: Stack;
let mock: MockProvider;
let close: () => Promise<void>;
let port: number;

beforeAll(async () => {
  port = await freePort();
  const started = await startProviderStack(['openai'], realKeys(['openai']), { sandbox: { name: 'loopback-guard' }, listen: { loopbackPort: port } });
  ({ stack, close } = started);
  mock = started.mocks.get('openai')!;
});

afterAll(async () => close?.());

const body = JSON.stringify({ model: 'via-openai', messages: [{ role: 'user', content: 'from a web page' }] });

/** A chat completion on the loopback port with exactly `headers` (and `target`), on a connection of its own. */
async function chat(headers: string[], target = '/v1/chat/completions') {
  const text = await exchange({ port }, request([`POST ${target} HTTP/1.1`, ...headers, 'Content-Type: application/json', `Content-Length: ${body.length}`, 'Connection: close'], body));
  expectNoInternals(text, expect);
  return parseResponses(text)[0]!;
}

describe('the loopback port refuses', () => {
  const host = () => `127.0.0.1:${port}`;
  it.each([
    ['a name that starts like the listener', () => [`Host: 127.0.0.1:${port}.evil.example`]],
    ['the listener with a trailing dot', () => [`Host: localhost.:${port}`]],
    ['an IPv4-mapped IPv6 loopback', () => [`Host: [::ffff:127.0.0.1]:${port}`]],
    ['loopback in decimal', () => [`Host: 2130706433:${port}`]],
    ['0.0.0.0', () => [`Host: 0.0.0.0:${port}`]],
    ['another loopback address', () => [`Host: 127.0.0.2:${port}`]],
    ['the listener without its port', () => ['Host: 127.0.0.1']],
    ['userinfo before the listener', () => [`Host: evil@127.0.0.1:${port}`]],
    ['an empty Host', () => ['Host: ']],
    ['a foreign Host first, the listener second', () => ['Host: evil.example', `Host: ${host()}`]],
    ['a null Origin', () => [`Host: ${host()}`, 'Origin: null']],
    ['an https Origin', () => [`Host: ${host()}`, `Origin: https://127.0.0.1:${port}`]],
    ['an Origin of another port', () => [`Host: ${host()}`, `Origin: http://127.0.0.1:${port + 1}`]],
    ['an Origin with a path', () => [`Host: ${host()}`, `Origin: http://127.0.0.1:${port}/x`]],
    ['an Origin naming the rebound name', () => [`Host: ${host()}`, 'Origin: http://rebind.evil.example']],
  ])('%s, before any provider is called', async (_what, headers) => {
    mock.reset();
    const response = await chat(headers());
    expect(response.status).toBe(403);
    expect(JSON.parse(response.body)).toMatchObject({ error: { type: 'permission_error' } });
    expect(mock.received).toEqual([]);
  });

  it('a request without Host, in the client’s shape (node:http answered it 400 with no body), before any provider is called', async () => {
    mock.reset();
    const response = await chat([]);
    expect(response.status).toBe(403);
    expect(JSON.parse(response.body)).toMatchObject({ error: { type: 'permission_error', message: expect.stringContaining('Invalid Host header') } });
    expect(mock.received).toEqual([]);
  });

  it('an absolute-form target naming another host, whatever Host says', async () => {
    mock.reset();
    const response = await chat([`Host: ${host()}`], `http://evil.example/v1/chat/completions`);
    expect(response.status).toBe(403);
    expect(mock.received).toEqual([]);
  });

  it('a foreign Host on an Anthropic path, in Anthropic’s shape', async () => {
    const text = await exchange({ port }, request(['POST /v1/messages HTTP/1.1', 'Host: evil.example', 'Content-Type: application/json', 'Content-Length: 2', 'Connection: close'], '{}'));
    const response = parseResponses(text)[0]!;
    expect(response.status).toBe(403);
    expect(JSON.parse(response.body)).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
  });
});

describe('the loopback port answers', () => {
  it.each([
    ['127.0.0.1', () => [`Host: 127.0.0.1:${port}`]],
    ['localhost in capitals', () => [`Host: LOCALHOST:${port}`]],
    ['[::1]', () => [`Host: [::1]:${port}`]],
    ['its own Origin', () => [`Host: 127.0.0.1:${port}`, `Origin: http://localhost:${port}`]],
  ])('its own name: %s', async (_what, headers) => {
    const response = await chat(headers());
    expect(response.status).toBe(200);
  });

  it.each([['Host: evil.example'], []])('while the socket, which a browser cannot reach, takes any Host, or none: %s', async (...hostLine) => {
    const text = await exchange({ path: stack.socketPath }, request(['POST /v1/chat/completions HTTP/1.1', ...hostLine, 'Content-Type: application/json', `Content-Length: ${body.length}`, 'Connection: close'], body));
    expect(parseResponses(text)[0]!.status).toBe(200);
  });
});
