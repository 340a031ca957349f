/**
 * The body limit and the in-flight body budget against bodies written to dodge them, in
 * hand-written bytes over the Unix socket: chunked bodies (no length to refuse up front) that
 * run past `listen.maxBodyBytes`, a Content-Length past it, `Expect: 100-continue` (the body
 * after the interim answer), slow bodies holding the budget while others arrive; and headers past
 * Node's limits (count and size). Each refusal is JSON in the client's shape, the provider is
 * never called, the connection carrying an unread body is closed, and the sidecar keeps answering.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { realKeys, startProviderStack, type Stack } from './harness.js';
import type { MockProvider } from '../../mocks/index.js';
import { exchange, expectNoInternals, open, parseResponses, readAll, request, responsesOf } from './raw-http.js';

const KiB = 1024;
const LIMIT = 64 * KiB;
let stack: Stack;
let mock: MockProvider;
let close: () => Promise<void>;

beforeAll(async () => {
  const started = await startProviderStack(['openai'], realKeys(['openai']), { sandbox: { name: 'http-bodies' }, listen: { maxBodyBytes: LIMIT, maxBodyBytesInFlight: 2 * LIMIT } });
  ({ stack, close } = started);
  mock = started.mocks.get('openai')!;
});

afterAll(async () => close?.());

const door = () => ({ path: stack.socketPath });
const head = (framing: string[]) => ['POST /v1/chat/completions HTTP/1.1', 'Host: airlock', 'Content-Type: application/json', ...framing];
/** A chat body of about `size` bytes. */
const bodyOf = (size: number) => JSON.stringify({ model: 'via-openai', messages: [{ role: 'user', content: 'x'.repeat(size) }] });
const chunk = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;

it('refuses a chunked body once it runs past the limit (413 in JSON), closes the connection, and calls no provider', async () => {
  mock.reset();
  const big = bodyOf(LIMIT * 3);
  const pieces = [request(head(['Transfer-Encoding: chunked']))];
  for (let i = 0; i < big.length; i += 8 * KiB) pieces.push(chunk(big.slice(i, i + 8 * KiB)));
  pieces.push('0\r\n\r\n');
  const text = await exchange(door(), ...pieces);
  const responses = parseResponses(text);
  expect(responses.map((r) => r.status)).toEqual([413]);
  expect(responses[0]!.headers.connection).toBe('close');
  expect(JSON.parse(responses[0]!.body)).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringContaining('listen.maxBodyBytes') } });
  expectNoInternals(text, expect);
  expect(mock.received).toEqual([]);
});

it('refuses a Content-Length past the limit before reading the body (Expect: 100-continue gets no 100)', async () => {
  mock.reset();
  const { text, responses } = await responsesOf(door(), 1, request(head([`Content-Length: ${LIMIT * 1000}`, 'Expect: 100-continue'])));
  expect(text).not.toMatch(/^HTTP\/1\.1 100/);
  expect(responses[0]!.status).toBe(413);
  expect(JSON.parse(responses[0]!.body)).toMatchObject({ error: { message: expect.stringContaining('listen.maxBodyBytes') } });
  expect(mock.received).toEqual([]);
});

it('answers Expect: 100-continue within the limit: 100, then the answer', async () => {
  const body = bodyOf(100);
  const socket = await open(door());
  const all = readAll(socket);
  socket.write(request(head([`Content-Length: ${body.length}`, 'Expect: 100-continue', 'Connection: close'])));
  // The body goes once the interim answer is in.
  await new Promise<void>((resolve) => socket.once('data', () => resolve()));
  socket.write(body);
  const text = (await all).toString('latin1');
  expect(text).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
});

it('answers an Expect it does not know in JSON (417), not with an empty body', async () => {
  const body = bodyOf(10);
  const text = await exchange(door(), request(head([`Content-Length: ${body.length}`, 'Expect: 200-ok', 'Connection: close']), body));
  const [response] = parseResponses(text);
  expect(response!.status).toBe(417);
  expect(JSON.parse(response!.body)).toMatchObject({ error: { type: 'invalid_request_error' } });
});

it('holds slow bodies against the in-flight budget: a third large body is refused (503, Retry-After) while two trickle, and admitted once they are gone', async () => {
  mock.reset();
  const declared = LIMIT - KiB;
  // Two bodies that declare almost the limit each and send only their first bytes.
  const slow = await Promise.all([0, 1].map(() => open(door())));
  for (const s of slow) s.write(request(head([`Content-Length: ${declared}`]), '{"model":"via-openai",'));
  // Each reservation is made when its headers are read; the health check after them on a new connection is read after them.
  await stack.fetch('/healthz');
  const body = bodyOf(LIMIT / 2);
  const third = await exchange(door(), request(head([`Content-Length: ${body.length}`, 'Connection: close']), body));
  const [refused] = parseResponses(third);
  expect(refused!.status).toBe(503);
  expect(refused!.headers['retry-after']).toBe('1');
  for (const s of slow) s.destroy();
  await expect.poll(async () => parseResponses(await exchange(door(), request(head([`Content-Length: ${body.length}`, 'Connection: close']), body)))[0]!.status, { timeout: 10_000, interval: 50 }).toBe(200);
});

it.each([
  ['headers past 16 KiB', () => [`X-Big: ${'a'.repeat(20 * KiB)}`], 431],
  ['3,000 headers', () => Array.from({ length: 3000 }, (_, i) => `X-H${i}: v`), 431],
])('answers %s in JSON and keeps serving', async (_what, extra, status) => {
  const body = bodyOf(10);
  const text = await exchange(door(), request([...head([`Content-Length: ${body.length}`, 'Connection: close']), ...extra()], body));
  expectNoInternals(text, expect);
  const [response] = parseResponses(text);
  expect(response!.status).toBe(status);
  expect(() => JSON.parse(response!.body)).not.toThrow();
  expect((await stack.fetch('/healthz')).status).toBe(200);
});
