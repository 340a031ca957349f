/**
 * HTTP/1.1 below the HTTP libraries: raw requests no client library would send (bogus
 * Content-Length, broken chunked encoding, Transfer-Encoding next to Content-Length, control
 * bytes in headers, odd request lines, pipelining), a raw client that sends them over the Unix
 * socket, and a parser for what comes back. A framing error is refused by Node's HTTP parser
 * before any route, so its answer is only required to be a 4xx (JSON when it says so), to
 * come promptly, and to show no secret.
 */
import { connect } from 'node:net';
import fc from 'fast-check';
import { byteMutations, mutateBytes, serialize } from './mutate.js';
import type { Seed } from './requests.js';

const weighted = <T>(weight: number, ...values: T[]) => ({ weight, arbitrary: fc.constantFrom(...values) });

const framing = fc.oneof(
  weighted(6, 'length', 'chunked'),
  weighted(4, 'length+', 'length-', 'length-garbage', 'two-lengths', 'chunked-broken', 'chunked-unterminated', 'te-and-length', 'te-odd', 'none'),
);

const headerLine = fc.oneof(
  weighted(6, 'Accept: application/json, text/event-stream', 'Anthropic-Version: 2023-06-01', 'Connection: keep-alive', 'Expect: 100-continue', 'Connection: close', 'X-Empty:', 'Host: other'),
  weighted(
    2,
    'Host: a\r\nHost: b',
    'Host: [',
    'Host: a b',
    'Content-Type: text/plain',
    'Connection: Upgrade\r\nUpgrade: websocket',
    'Anthropic-Version: \u0001\u00ff',
    'Mcp-Session-Id: \u00ff\u00fe',
    'X-Nul: a\u0000b',
    'X-Cr: a\rb',
    'Bad Header: x',
    ' folded: continuation',
    'X-Big: ' + 'a'.repeat(20_000),
    ': empty-name',
  ),
);

/** Method, target (`SEED`: the seed's own path) and version; mostly valid, so the rest gets parsed. */
const requestLine = fc.tuple(
  fc.oneof(weighted(8, 'POST'), weighted(2, 'GET', 'DELETE', 'PUT'), weighted(1, 'TRACE', 'CONNECT', 'PRI', 'P\u00d6ST', 'POST\u0000', '', 'get', 'FOO')),
  fc.oneof(weighted(8, 'SEED'), weighted(2, '/mcp', '/healthz', '/v1/models'), weighted(1, '*', 'http://evil.example/v1/models', '/v1/models/%ff', '', '/ /', '/\u00ff')),
  fc.oneof(weighted(8, 'HTTP/1.1'), weighted(1, 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1x', 'HTTP/9', '')),
);

/** Raw request bytes built from `seeds`, and whether the client half-closes right after sending them. */
export function rawRequests(seeds: Seed[]): fc.Arbitrary<{ bytes: Buffer; halfClose: boolean }> {
  return fc
    .record({
      line: requestLine,
      seed: fc.constantFrom(...seeds),
      frame: framing,
      lines: fc.array(headerLine, { maxLength: 4 }),
      mutations: fc.option(byteMutations(2), { freq: 3, nil: null }),
      pipeline: fc.boolean(),
      halfClose: fc.boolean(),
      noHost: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
    })
    .map(({ line: [method, target, version], seed, frame, lines, mutations, pipeline, halfClose, noHost }) => {
      const text = Buffer.from(serialize(seed.body)!);
      const body = mutations ? mutateBytes(text, mutations) : text;
      const head = [`${method} ${target === 'SEED' ? seed.path : target} ${version}`, ...(noHost ? [] : ['Host: airlock']), 'Content-Type: application/json', ...lines];
      const next = pipeline ? Buffer.from('GET /healthz HTTP/1.1\r\nHost: airlock\r\n\r\n') : Buffer.alloc(0);
      return { bytes: Buffer.concat([frameRequest(head, body, frame), next]), halfClose };
    });
}

/** A raw request: request line and header lines (`head`), and the body framed as `frame` says. */
function frameRequest(head: string[], body: Buffer, frame: string): Buffer {
  head = [...head];
  let payload = body;
  const chunked = (b: Buffer, end = '0\r\n\r\n') => Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from(`\r\n${end}`)]);
  switch (frame) {
    case 'length':
      head.push(`Content-Length: ${body.length}`);
      break;
    case 'length+':
      head.push(`Content-Length: ${body.length + 7}`);
      break;
    case 'length-':
      head.push(`Content-Length: ${Math.max(0, body.length - 7)}`);
      break;
    case 'length-garbage':
      head.push('Content-Length: 1e3, -1');
      break;
    case 'two-lengths':
      head.push(`Content-Length: ${body.length}`, `Content-Length: ${body.length + 1}`);
      break;
    case 'chunked':
      head.push('Transfer-Encoding: chunked');
      payload = chunked(body);
      break;
    case 'chunked-broken':
      head.push('Transfer-Encoding: chunked');
      payload = Buffer.concat([Buffer.from('zz\r\n'), body, Buffer.from('\r\n0\r\n\r\n')]);
      break;
    case 'chunked-unterminated':
      head.push('Transfer-Encoding: chunked');
      payload = chunked(body, '');
      break;
    case 'te-and-length':
      head.push('Transfer-Encoding: chunked', `Content-Length: ${body.length}`);
      payload = chunked(body);
      break;
    case 'te-odd':
      head.push('Transfer-Encoding: gzip, chunked, identity');
      payload = chunked(body);
      break;
  }
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), payload]);
}

/** What is wrong with the bytes a raw exchange received: malformed responses, 5xx without a provider failure, broken JSON, secrets. */
export function rawProblems(received: Buffer, closed: boolean, options: { secrets: string[]; providerFailed: boolean }): string[] {
  const { responses, error } = parseResponses(received, closed);
  const all = received.toString('latin1') + received.toString('utf8');
  return [
    ...(error ? [error] : []),
    ...options.secrets.filter((s) => all.includes(s)).map((s) => `secret ${s.slice(0, 6)}… in the response`),
    ...responses.flatMap((r) => (r.status >= 500 && !options.providerFailed ? [`status ${r.status} without a provider failure`] : [])),
    ...responses.flatMap((r) => ((r.headers['content-type'] ?? '').startsWith('application/json') && !isJson(r.body) ? [`a JSON response that does not parse: ${r.body.toString().slice(0, 200)}`] : [])),
  ];
}

function isJson(body: Buffer): boolean {
  try {
    JSON.parse(body.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

/** One response read off a raw connection. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Parses HTTP/1.1 responses from `bytes`; `rest` holds an incomplete tail, `error` a malformed one. */
export function parseResponses(bytes: Buffer, closed: boolean): { responses: RawResponse[]; rest: number; error?: string } {
  const responses: RawResponse[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const end = bytes.indexOf('\r\n\r\n', offset);
    if (end < 0) return { responses, rest: bytes.length - offset };
    const head = bytes.subarray(offset, end).toString('latin1').split('\r\n');
    const match = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(head[0]!);
    if (!match) return { responses, rest: bytes.length - offset, error: `malformed status line ${JSON.stringify(head[0])}` };
    const headers: Record<string, string> = {};
    for (const line of head.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const status = Number(match[1]);
    let position = end + 4;
    let body: Buffer;
    if (status < 200 || status === 204 || status === 304) {
      body = Buffer.alloc(0);
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = [];
      for (;;) {
        const lineEnd = bytes.indexOf('\r\n', position);
        if (lineEnd < 0) return { responses, rest: bytes.length - offset };
        const size = parseInt(bytes.subarray(position, lineEnd).toString('latin1'), 16);
        if (!Number.isFinite(size)) return { responses, rest: bytes.length - offset, error: 'malformed chunk size' };
        if (lineEnd + 2 + size + 2 > bytes.length) return { responses, rest: bytes.length - offset };
        parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
        position = lineEnd + 2 + size + 2;
        if (size === 0) break;
      }
      body = Buffer.concat(parts);
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (position + length > bytes.length) return { responses, rest: bytes.length - offset };
      body = bytes.subarray(position, position + length);
      position += length;
    } else {
      if (!closed) return { responses, rest: bytes.length - offset };
      body = bytes.subarray(position);
      position = bytes.length;
    }
    responses.push({ status, headers, body });
    offset = position;
  }
  return { responses, rest: 0 };
}

/**
 * Sends raw bytes on a new connection to the socket and collects what comes back. Without
 * `halfClose` it waits until the responses received so far are complete and the connection has
 * been quiet for `quietMs`, then half-closes; the server must then finish within `limitMs`.
 * Rejects when it does not (a hang).
 */
export function rawExchange(socketPath: string, bytes: Buffer, options: { halfClose: boolean; quietMs?: number; limitMs: number }): Promise<{ bytes: Buffer; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path: socketPath });
    const chunks: Buffer[] = [];
    let quiet: NodeJS.Timeout | undefined;
    const settleQuietly = () => {
      clearTimeout(quiet);
      quiet = setTimeout(() => {
        const received = Buffer.concat(chunks);
        if (parseResponses(received, false).rest === 0 && !socket.writableEnded) socket.end();
        else settleQuietly();
      }, options.quietMs ?? 100);
    };
    const limit = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no end within ${options.limitMs} ms; received ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 300))}`));
    }, options.limitMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (!options.halfClose) settleQuietly();
    });
    // EPIPE/ECONNRESET: the server refused the rest of our bytes, which is an answer too.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(limit);
      clearTimeout(quiet);
      resolve({ bytes: Buffer.concat(chunks), closed: true });
    });
    socket.write(bytes);
    if (options.halfClose) socket.end();
    else settleQuietly();
  });
}
