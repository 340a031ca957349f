/**
 * Request framing the agent disputes, in hand-written bytes over the Unix socket and the loopback
 * port: two lengths (Content-Length with Transfer-Encoding, two Content-Lengths, a list), codings
 * a parser may read either way, folded and bare-CR header lines, chunk sizes that overflow. A
 * server that picks one reading of such a request while something else (a proxy, the next parser
 * in line, a future layer) picks the other runs bytes as a request nobody sent; the sidecar must
 * refuse the request (400, in a JSON error) and close the connection, so nothing written after it
 * on that connection is read as a request: the provider never sees the request hidden there.
 * Pipelined requests whose lengths are not in dispute are each answered, in order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, realKeys, startProviderStack, type Stack } from './harness.js';
import type { MockProvider } from '../../mocks/index.js';
import { chatRequest, closing, exchange, expectNoInternals, parseResponses, request, type Door } from './raw-http.js';

let stack: Stack;
let mock: MockProvider;
let close: () => Promise<void>;
let doors: [string, Door][];

beforeAll(async () => {
  const port = await freePort();
  const started = await startProviderStack(['openai'], realKeys(['openai']), { sandbox: { name: 'http-desync' }, listen: { loopbackPort: port } });
  ({ stack, close } = started);
  mock = started.mocks.get('openai')!;
  doors = [
    ['the Unix socket', { path: stack.socketPath }],
    ['the loopback port', { port }],
  ];
});

afterAll(async () => close?.());

const HOST = { socket: 'airlock', loopback: (port: number) => `127.0.0.1:${port}` };
const hostOf = (door: Door) => ('port' in door ? HOST.loopback(door.port) : HOST.socket);

/** The hidden request: a chat completion whose message is `marker`. */
const hidden = (marker: string, host: string) => chatRequest('via-openai', marker, [], host);

/** Heads of a POST to the chat endpoint with the framing headers of a case, for `host`. */
const post = (host: string, framing: string[]) => ['POST /v1/chat/completions HTTP/1.1', `Host: ${host}`, 'Content-Type: application/json', ...framing];

/** Ambiguous framings: the head lines and body of the disputed request, built for a host and the hidden request's bytes. */
const AMBIGUOUS: [string, (host: string, smuggled: string) => string][] = [
  ['Content-Length and Transfer-Encoding: chunked', (h, s) => request(post(h, [`Content-Length: 5`, 'Transfer-Encoding: chunked']), `0\r\n\r\n${s}`)],
  ['Transfer-Encoding: chunked before Content-Length', (h, s) => request(post(h, ['Transfer-Encoding: chunked', `Content-Length: ${5 + s.length}`]), `0\r\n\r\n${s}`)],
  ['two different Content-Lengths', (h, s) => request(post(h, ['Content-Length: 0', `Content-Length: ${s.length}`]), s)],
  ['a Content-Length list of two values', (h, s) => request(post(h, [`Content-Length: 0, ${s.length}`]), s)],
  ['Transfer-Encoding: chunked, identity', (h, s) => request(post(h, ['Transfer-Encoding: chunked, identity', `Content-Length: ${5 + s.length}`]), `0\r\n\r\n${s}`)],
  ['Transfer-Encoding: xchunked', (h, s) => request(post(h, ['Transfer-Encoding: xchunked']), `0\r\n\r\n${s}`)],
  ['Transfer-Encoding with a space before the colon', (h, s) => request(post(h, ['Transfer-Encoding : chunked', 'Content-Length: 5']), `0\r\n\r\n${s}`)],
  ['Transfer-Encoding folded onto the next line', (h, s) => request(post(h, ['Transfer-Encoding:', ' chunked', 'Content-Length: 5']), `0\r\n\r\n${s}`)],
  ['Content-Length folded onto the next line', (h, s) => request(post(h, ['Content-Length: 0', ` ${s.length}`]), s)],
  ['a bare CR hiding a Transfer-Encoding', (h, s) => request(post(h, ['X-Note: a\rTransfer-Encoding: chunked', 'Content-Length: 5']), `0\r\n\r\n${s}`)],
  ['a chunk size that overflows 64 bits', (h, s) => request(post(h, ['Transfer-Encoding: chunked']), `10000000000000005\r\n{}\r\n\r\n0\r\n\r\n${s}`)],
  ['a chunk size with a sign', (h, s) => request(post(h, ['Transfer-Encoding: chunked']), `+5\r\n{"a":}\r\n0\r\n\r\n${s}`)],
  ['a negative Content-Length', (h, s) => request(post(h, ['Content-Length: -1']), s)],
  ['a NUL in a header value', (h, s) => request(post(h, ['X-Note: a\0b', 'Content-Length: 0']), s)],
];

describe.each([0, 1])('through door %i (0: the Unix socket, 1: the loopback port)', (which) => {
  it.each(AMBIGUOUS)('refuses %s with a 400 and closes: the request hidden after it never reaches the provider', async (what, build) => {
    const [, door] = doors[which]!;
    const host = hostOf(door);
    const marker = `HIDDEN-${which}-${what}`;
    mock.reset();
    const text = await exchange(door, build(host, hidden(marker, host)), closing(host));
    const responses = parseResponses(text);
    expect(responses.map((r) => r.status), text.slice(0, 400)).toEqual([400]);
    expect(responses[0]!.headers.connection).toBe('close');
    expect(() => JSON.parse(responses[0]!.body)).not.toThrow();
    expectNoInternals(text, expect);
    expect(mock.received.filter((r) => r.rawBody.includes(marker))).toEqual([]);
    // The sidecar still answers.
    expect((await stack.fetch('/healthz')).status).toBe(200);
  });

  it('answers pipelined requests in order when their lengths are not in dispute (one body spans a write boundary)', async () => {
    const [, door] = doors[which]!;
    const host = hostOf(door);
    mock.reset();
    const first = hidden(`PIPELINED-A-${which}`, host);
    const second = hidden(`PIPELINED-B-${which}`, host);
    const both = first + second;
    const cut = first.length + 40;
    const text = await exchange(door, both.slice(0, cut), both.slice(cut), closing(host));
    const responses = parseResponses(text);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(JSON.parse(responses[0]!.body).choices[0].message.content).toContain(`PIPELINED-A-${which}`);
    expect(JSON.parse(responses[1]!.body).choices[0].message.content).toContain(`PIPELINED-B-${which}`);
  });

  it.each([
    ['one stray byte', () => 'X'],
    ['a whole second request', (host: string, which: number) => hidden(`AFTER-CLOSE-${which}`, host)],
  ])('answers a request sent with Connection: close although %s follows it, and reads nothing after it', async (_what, after) => {
    const [, door] = doors[which]!;
    const host = hostOf(door);
    mock.reset();
    const first = chatRequest('via-openai', `CLOSING-${which}`, ['Connection: close'], host);
    const text = await exchange(door, first + after(host, which));
    const responses = parseResponses(text);
    // The provider was asked: the answer it gave is the client's (it was a 400 "malformed HTTP request" in its place).
    expect(responses.map((r) => r.status), text.slice(0, 400)).toEqual([200]);
    expect(JSON.parse(responses[0]!.body).choices[0].message.content).toContain(`CLOSING-${which}`);
    expect(responses[0]!.headers.connection).toBe('close');
    expect(mock.received.filter((r) => r.rawBody.includes(`AFTER-CLOSE-${which}`))).toEqual([]);
  });

  it('closes the connection after a streamed answer to a request sent with Connection: close', async () => {
    const [, door] = doors[which]!;
    const host = hostOf(door);
    const body = JSON.stringify({ model: 'via-openai', stream: true, messages: [{ role: 'user', content: `STREAM-CLOSE-${which}` }] });
    // exchange() returns once the sidecar closes: it hung while the answer said keep-alive.
    const text = await exchange(door, request(['POST /v1/chat/completions HTTP/1.1', `Host: ${host}`, 'Content-Type: application/json', `Content-Length: ${body.length}`, 'Connection: close'], body));
    expect(text).toContain(`STREAM-CLOSE-${which}`);
    expect(text.toLowerCase()).toContain('\r\nconnection: close\r\n');
    expect(text.toLowerCase()).not.toContain('keep-alive');
  });

  it('sends nothing on for a request pipelined behind one whose refusal closes the connection (its answer could never be written)', async () => {
    const [, door] = doors[which]!;
    const host = hostOf(door);
    mock.reset();
    // The first has a body but no Content-Type: 415, and the connection closes after it. Tried
    // several times: whether the second's body was read before the first's answer ended varies.
    for (let i = 0; i < 8; i++) {
      const refused = request(['POST /v1/chat/completions HTTP/1.1', `Host: ${host}`, 'Content-Length: 2'], '{}');
      const text = await exchange(door, refused + hidden(`BEHIND-415-${which}-${i}`, host));
      expect(parseResponses(text).map((r) => r.status), text.slice(0, 400)).toEqual([415]);
    }
    // Given a moment to have been sent, had it been.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(mock.received.filter((r) => r.rawBody.includes(`BEHIND-415-${which}`)).map((r) => r.rawBody)).toEqual([]);
  });

  it('reads Transfer-Encoding lines identity then chunked as chunked (RFC 9112: the last coding frames the body), so what follows is the next request', async () => {
    const [, door] = doors[which]!;
    const host = hostOf(door);
    const marker = `NEXT-${which}`;
    const text = await exchange(door, request(post(host, ['Transfer-Encoding: identity', 'Transfer-Encoding: chunked']), `0\r\n\r\n${hidden(marker, host)}`), closing(host));
    const responses = parseResponses(text);
    // The empty chunked body is refused as not JSON; the next request is the agent's own, answered.
    expect(responses.map((r) => r.status)).toEqual([400, 200, 200]);
    expect(JSON.parse(responses[1]!.body).choices[0].message.content).toContain(marker);
  });

  it.each([
    ['/v1/messages', { type: 'error', error: { type: 'invalid_request_error', message: 'malformed HTTP request' } }],
    ['/v1beta/models/m:generateContent', { error: { code: 400, status: 'INVALID_ARGUMENT', message: 'malformed HTTP request' } }],
    ['/v1/chat/completions', { error: { type: 'invalid_request_error', message: 'malformed HTTP request' } }],
  ])('answers a request its parser refuses on %s in that API’s error shape', async (path, shape) => {
    const [, door] = doors[which]!;
    const text = await exchange(door, request([`POST ${path} HTTP/1.1`, `Host: ${hostOf(door)}`, 'Content-Type: application/json', 'Content-Length: 2', 'Transfer-Encoding: chunked'], '{}'));
    const [response] = parseResponses(text);
    expect(response!.status).toBe(400);
    expect(JSON.parse(response!.body)).toMatchObject(shape);
  });

  it('reads a chunked body (with chunk extensions and a trailer) as the one body it is', async () => {
    const [, door] = doors[which]!;
    const host = hostOf(door);
    const body = JSON.stringify({ model: 'via-openai', messages: [{ role: 'user', content: `CHUNKED-${which}` }] });
    const chunked = `${(10).toString(16)};ext=1\r\n${body.slice(0, 10)}\r\n${(body.length - 10).toString(16)}\r\n${body.slice(10)}\r\n0\r\nX-Trailer: t\r\n\r\n`;
    const text = await exchange(door, request(post(host, ['Transfer-Encoding: chunked']), chunked), closing(host));
    const responses = parseResponses(text);
    expect(responses.map((r) => r.status)).toEqual([200, 200]);
    expect(JSON.parse(responses[0]!.body).choices[0].message.content).toContain(`CHUNKED-${which}`);
  });
});
