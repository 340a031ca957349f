/**
 * Hand-written HTTP/1.1 bytes to the sidecar, as an agent in the pod may send them: over the Unix
 * socket or the loopback TCP port, with no client library to tidy them up. Each exchange writes
 * the bytes, then reads until the sidecar closes the connection; payloads end with a request that
 * says `Connection: close` (or the sidecar closes on its own), so no exchange waits on a timer.
 */
import { connect, type Socket } from 'node:net';

/** Where an exchange connects: the socket's path, or the loopback port. */
export type Door = { path: string } | { port: number; host?: string };

/** One HTTP response as read off the wire. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Opens a connection to `door`. */
export function open(door: Door): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = 'path' in door ? connect({ path: door.path }) : connect({ port: door.port, host: door.host ?? '127.0.0.1' });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Everything the peer sends until it closes (or resets) the connection. */
export function readAll(socket: Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const done = () => resolve(Buffer.concat(chunks));
    socket.once('close', done);
    socket.once('error', () => undefined);
  });
}

/** Writes `bytes` (pieces written one by one) and returns what came back until the close. */
export async function exchange(door: Door, ...pieces: (string | Buffer)[]): Promise<string> {
  const socket = await open(door);
  const all = readAll(socket);
  for (const piece of pieces) socket.write(piece);
  return (await all).toString('latin1');
}

/**
 * Writes `pieces` and reads until `count` whole responses came back or the peer closed, then
 * closes: for requests after which a server may rightly keep the connection open and silent
 * (an Upgrade it does not take: what follows is not HTTP to it).
 */
export async function responsesOf(door: Door, count: number, ...pieces: (string | Buffer)[]): Promise<{ text: string; responses: RawResponse[]; closedByPeer: boolean }> {
  const socket = await open(door);
  const chunks: Buffer[] = [];
  const result = await new Promise<{ text: string; responses: RawResponse[]; closedByPeer: boolean }>((resolve) => {
    const text = () => Buffer.concat(chunks).toString('latin1');
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const responses = parseResponses(text());
      if (responses.length >= count && isWhole(text(), responses)) resolve({ text: text(), responses, closedByPeer: false });
    });
    socket.once('close', () => resolve({ text: text(), responses: parseResponses(text()), closedByPeer: true }));
    socket.once('error', () => undefined);
    for (const piece of pieces) socket.write(piece);
  });
  socket.destroy();
  return result;
}

/** Whether the last parsed response is complete (its declared length has arrived). */
function isWhole(text: string, responses: RawResponse[]): boolean {
  const last = responses.at(-1)!;
  const length = last.headers['content-length'];
  return length === undefined ? text.endsWith('0\r\n\r\n') : Buffer.byteLength(last.body, 'latin1') >= Number(length);
}

/**
 * The responses in a byte stream read off one connection, in order. Bodies are delimited by
 * Content-Length or chunked encoding; a response without either runs to the end.
 */
export function parseResponses(text: string): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest = text;
  while (rest.startsWith('HTTP/1.')) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    rest = rest.slice(end + 4);
    let body: string;
    if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      body = rest.slice(0, length);
      rest = rest.slice(length);
    } else if (headers['transfer-encoding']?.includes('chunked')) {
      body = '';
      for (;;) {
        const line = rest.indexOf('\r\n');
        const size = parseInt(rest.slice(0, line), 16);
        rest = rest.slice(line + 2);
        if (!(size > 0)) {
          rest = rest.slice(rest.indexOf('\r\n') + 2);
          break;
        }
        body += rest.slice(0, size);
        rest = rest.slice(size + 2);
      }
    } else {
      body = rest;
      rest = '';
    }
    responses.push({ status: Number(statusLine!.split(' ')[1]), headers, body });
  }
  return responses;
}

/** A request in bytes: `head` lines joined with CRLF, then the blank line and `body`. */
export function request(head: string[], body = ''): string {
  return `${head.join('\r\n')}\r\n\r\n${body}`;
}

/** A chat completion body whose message carries `marker`, for telling which request reached the provider. */
export function chatBody(model: string, marker: string): string {
  return JSON.stringify({ model, messages: [{ role: 'user', content: marker }] });
}

/** A whole chat completion request with `marker` in its message; `extra` headers go before the body. */
export function chatRequest(model: string, marker: string, extra: string[] = [], host = 'airlock'): string {
  const body = chatBody(model, marker);
  return request(['POST /v1/chat/completions HTTP/1.1', `Host: ${host}`, 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`, ...extra], body);
}

/** The last request of a payload: the sidecar answers it and closes. */
export function closing(host = 'airlock'): string {
  return request(['GET /healthz HTTP/1.1', `Host: ${host}`, 'Connection: close']);
}

/** What an answer must never carry: a stack trace, a source path, the test machine's directories. */
export function expectNoInternals(text: string, expect: (value: unknown) => { not: { toMatch(re: RegExp): void } }): void {
  expect(text).not.toMatch(/\n\s+at |node_modules|\/work\/|\/src\/|\.ts:\d|\.js:\d/);
}
