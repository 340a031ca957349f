/**
 * The probe list of the sidecar's HTTP edge: raw requests (paths, methods, headers, bodies, and
 * framing no client library sends) to the agent-facing socket, the loopback listener and the admin
 * port, and what a client sees of each answer (status, the headers it acts on, the body with
 * volatile fields masked). http-probe.test.ts checks the answers against http-probe.expected.json,
 * recorded from the fastify-based edge before the hand router replaced it (ADR 0024): every answer
 * the same, or changed on purpose and listed in CHANGED with the reason.
 */
import { connect, type NetConnectOpts } from 'node:net';

/** One raw request. `body` is sent as is after the head; headers are written in order, as given. */
export interface Probe {
  name: string;
  listener: 'socket' | 'loopback' | 'admin';
  method: string;
  target: string;
  headers?: [string, string][];
  body?: string | Buffer;
  /** Set Content-Length from the body (default true when there is a body and no such header given). */
  length?: boolean;
  /** Send no Host header (on the socket one is added otherwise). */
  noHost?: boolean;
}

/** What a client sees of an answer. */
export interface Seen {
  statuses: number[];
  headers: Record<string, string>;
  body: unknown;
}

const JSON_TYPE: [string, string] = ['content-type', 'application/json'];
const CHAT = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
const MESSAGES = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
const GENERATE = JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] });
const RESPONSES = JSON.stringify({ model: 'gpt-4o-mini', input: 'hi' });
const INIT = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'probe', version: '1' } } });
const ANTHROPIC: [string, string] = ['anthropic-version', '2023-06-01'];
const GOOGLE: [string, string] = ['x-goog-api-client', 'google-genai-sdk/1.0'];
const MCP_ACCEPT: [string, string] = ['accept', 'application/json, text/event-stream'];

const post = (name: string, target: string, body: string | Buffer, headers: [string, string][] = [JSON_TYPE]): Probe => ({ name, listener: 'socket', method: 'POST', target, headers, body });
const get = (name: string, target: string, headers: [string, string][] = []): Probe => ({ name, listener: 'socket', method: 'GET', target, headers });

/** The probes, each named after what it tries. `MAX_BODY` is the stack's listen.maxBodyBytes. */
export function probes(maxBody: number): Probe[] {
  const big = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x'.repeat(maxBody) }] });
  return [
    // Routes as clients call them.
    post('chat', '/v1/chat/completions', CHAT),
    post('chat, json with charset', '/v1/chat/completions', CHAT, [['content-type', 'application/json; charset=utf-8']]),
    post('chat, JSON upper case type', '/v1/chat/completions', CHAT, [['content-type', 'Application/JSON']]),
    post('chat, no content type', '/v1/chat/completions', CHAT, []),
    post('chat, text/plain', '/v1/chat/completions', CHAT, [['content-type', 'text/plain']]),
    post('chat, form type', '/v1/chat/completions', CHAT, [['content-type', 'application/x-www-form-urlencoded']]),
    post('chat, vnd+json type', '/v1/chat/completions', CHAT, [['content-type', 'application/vnd.api+json']]),
    post('chat, empty body', '/v1/chat/completions', ''),
    post('chat, not JSON', '/v1/chat/completions', '{"model":'),
    post('chat, not UTF-8', '/v1/chat/completions', Buffer.from([0x7b, 0x22, 0x6d, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])),
    post('chat, invalid field', '/v1/chat/completions', JSON.stringify({ model: 'gpt-4o-mini', messages: 'hi' })),
    post('chat, unknown model', '/v1/chat/completions', JSON.stringify({ model: 'nope', messages: [{ role: 'user', content: 'hi' }] })),
    post('chat, body over the limit', '/v1/chat/completions', big),
    post('chat, query string', '/v1/chat/completions?x=1&y', CHAT),
    post('chat, trailing slash', '/v1/chat/completions/', CHAT),
    post('chat, double slash', '//v1/chat/completions', CHAT),
    post('chat, upper case path', '/V1/CHAT/COMPLETIONS', CHAT),
    post('chat, escaped slash', '/v1/chat%2Fcompletions', CHAT),
    post('chat, escaped letter', '/v1/chat/complet%69ons', CHAT),
    post('chat, bad escape', '/v1/chat/completions%zz', CHAT),
    post('chat, absolute-form target', 'http://airlock/v1/chat/completions', CHAT),
    post('chat, fragment', '/v1/chat/completions#x', CHAT),
    get('chat, GET', '/v1/chat/completions'),
    { name: 'chat, PUT', listener: 'socket', method: 'PUT', target: '/v1/chat/completions', headers: [JSON_TYPE], body: CHAT },
    { name: 'chat, HEAD', listener: 'socket', method: 'HEAD', target: '/v1/chat/completions' },
    { name: 'chat, OPTIONS', listener: 'socket', method: 'OPTIONS', target: '/v1/chat/completions' },
    { name: 'chat, PURGE', listener: 'socket', method: 'PURGE', target: '/v1/chat/completions' },
    { name: 'chat, duplicate Content-Length', listener: 'socket', method: 'POST', target: '/v1/chat/completions', headers: [JSON_TYPE, ['content-length', String(CHAT.length)], ['content-length', String(CHAT.length)]], body: CHAT, length: false },
    { name: 'chat, differing Content-Lengths', listener: 'socket', method: 'POST', target: '/v1/chat/completions', headers: [JSON_TYPE, ['content-length', String(CHAT.length)], ['content-length', '3']], body: CHAT, length: false },
    { name: 'chat, Transfer-Encoding and Content-Length', listener: 'socket', method: 'POST', target: '/v1/chat/completions', headers: [JSON_TYPE, ['transfer-encoding', 'chunked'], ['content-length', String(CHAT.length)]], body: `${CHAT.length.toString(16)}\r\n${CHAT}\r\n0\r\n\r\n`, length: false },
    { name: 'chat, chunked', listener: 'socket', method: 'POST', target: '/v1/chat/completions', headers: [JSON_TYPE, ['transfer-encoding', 'chunked']], body: `${CHAT.length.toString(16)}\r\n${CHAT}\r\n0\r\n\r\n`, length: false },
    { name: 'chat, chunked over the limit', listener: 'socket', method: 'POST', target: '/v1/chat/completions', headers: [JSON_TYPE, ['transfer-encoding', 'chunked']], body: `${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`, length: false },
    { name: 'chat, Expect 100-continue', listener: 'socket', method: 'POST', target: '/v1/chat/completions', headers: [JSON_TYPE, ['expect', '100-continue']], body: CHAT },
    { name: 'chat, Expect other', listener: 'socket', method: 'POST', target: '/v1/chat/completions', headers: [JSON_TYPE, ['expect', 'something']], body: CHAT },
    { name: 'chat, header too large', listener: 'socket', method: 'POST', target: '/v1/chat/completions', headers: [JSON_TYPE, ['x-big', 'a'.repeat(20_000)]], body: CHAT },
    { name: 'chat, bad header', listener: 'socket', method: 'POST', target: '/v1/chat/completions', headers: [JSON_TYPE, ['bad header', 'x']], body: CHAT },
    post('completions', '/v1/completions', JSON.stringify({ model: 'gpt-4o-mini', prompt: 'hi' })),
    post('embeddings', '/v1/embeddings', JSON.stringify({ model: 'gpt-4o-mini', input: 'hi' })),
    get('models', '/v1/models'),
    get('models, anthropic client', '/v1/models', [ANTHROPIC]),
    get('models, google client', '/v1/models', [GOOGLE]),
    get('model', '/v1/models/gpt-4o-mini'),
    get('model, unknown', '/v1/models/nope'),
    get('model, escaped slash', '/v1/models/a%2Fb'),
    get('model, anthropic client', '/v1/models/claude-sonnet-4-5', [ANTHROPIC]),
    get('model, anthropic client, unknown', '/v1/models/nope', [ANTHROPIC]),
    get('model, google client', '/v1/models/gemini-2.5-flash', [GOOGLE]),
    get('models, trailing slash', '/v1/models/'),
    get('model, extra segment', '/v1/models/gpt-4o-mini/x'),
    post('messages', '/v1/messages', MESSAGES, [JSON_TYPE, ANTHROPIC]),
    post('messages, not JSON', '/v1/messages', '{', [JSON_TYPE, ANTHROPIC]),
    post('messages, text/plain', '/v1/messages', MESSAGES, [['content-type', 'text/plain'], ANTHROPIC]),
    post('messages, over the limit', '/v1/messages', big, [JSON_TYPE, ANTHROPIC]),
    post('count tokens', '/v1/messages/count_tokens', JSON.stringify({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'hi' }] }), [JSON_TYPE, ANTHROPIC]),
    get('messages, GET', '/v1/messages', [ANTHROPIC]),
    post('messages, unknown sub-path', '/v1/messages/batches', MESSAGES, [JSON_TYPE, ANTHROPIC]),
    post('unknown path, anthropic client', '/v1/unknown', '{}', [JSON_TYPE, ANTHROPIC]),
    post('responses', '/v1/responses', RESPONSES),
    get('response, unknown', '/v1/responses/resp_nope'),
    get('response input items, unknown', '/v1/responses/resp_nope/input_items'),
    { name: 'response, DELETE unknown', listener: 'socket', method: 'DELETE', target: '/v1/responses/resp_nope' },
    post('response, POST by id', '/v1/responses/resp_nope', RESPONSES),
    get('response, unknown sub-path', '/v1/responses/resp_nope/other'),
    post('gemini generate', '/v1beta/models/gemini-2.5-flash:generateContent', GENERATE),
    post('gemini generate, escaped colon', '/v1beta/models/gemini-2.5-flash%3AgenerateContent', GENERATE),
    post('gemini stream', '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse', GENERATE),
    post('gemini stream without alt=sse', '/v1beta/models/gemini-2.5-flash:streamGenerateContent', GENERATE),
    post('gemini count tokens', '/v1beta/models/gemini-2.5-flash:countTokens', GENERATE),
    post('gemini unknown method', '/v1beta/models/gemini-2.5-flash:frobnicate', GENERATE),
    post('gemini no method', '/v1beta/models/gemini-2.5-flash', GENERATE),
    post('gemini, not JSON', '/v1beta/models/gemini-2.5-flash:generateContent', '{'),
    post('gemini, text/plain', '/v1beta/models/gemini-2.5-flash:generateContent', GENERATE, [['content-type', 'text/plain']]),
    post('gemini, over the limit', '/v1beta/models/gemini-2.5-flash:generateContent', big),
    post('gemini under /v1, google client', '/v1/models/gemini-2.5-flash:generateContent', GENERATE, [JSON_TYPE, GOOGLE]),
    post('gemini under /v1, no google client', '/v1/models/gemini-2.5-flash:generateContent', GENERATE),
    get('gemini models', '/v1beta/models'),
    get('gemini model', '/v1beta/models/gemini-2.5-flash'),
    get('gemini model, unknown', '/v1beta/models/nope'),
    get('gemini model with method', '/v1beta/models/gemini-2.5-flash:generateContent'),
    { name: 'gemini, DELETE', listener: 'socket', method: 'DELETE', target: '/v1beta/models/gemini-2.5-flash' },
    get('gemini unknown path', '/v1beta/other'),
    get('usage', '/v1/usage'),
    get('healthz', '/healthz'),
    get('readyz', '/readyz'),
    { name: 'healthz, HEAD', listener: 'socket', method: 'HEAD', target: '/healthz' },
    { name: 'models, HEAD', listener: 'socket', method: 'HEAD', target: '/v1/models' },
    { name: 'healthz, POST', listener: 'socket', method: 'POST', target: '/healthz', headers: [JSON_TYPE], body: '{}' },
    get('root', '/'),
    get('unknown path', '/nope'),
    { name: 'asterisk target', listener: 'socket', method: 'OPTIONS', target: '*' },
    // MCP.
    post('mcp initialize', '/mcp', INIT, [JSON_TYPE, MCP_ACCEPT]),
    post('mcp, not JSON', '/mcp', '{', [JSON_TYPE, MCP_ACCEPT]),
    post('mcp, empty batch', '/mcp', '[]', [JSON_TYPE, MCP_ACCEPT]),
    post('mcp, text/plain', '/mcp', INIT, [['content-type', 'text/plain'], MCP_ACCEPT]),
    post('mcp, no content type', '/mcp', INIT, [MCP_ACCEPT]),
    post('mcp, form type', '/mcp', INIT, [['content-type', 'application/x-www-form-urlencoded'], MCP_ACCEPT]),
    post('mcp, over the limit', '/mcp', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: { x: 'x'.repeat(maxBody) } }), [JSON_TYPE, MCP_ACCEPT]),
    post('mcp, query string', '/mcp?x=1', INIT, [JSON_TYPE, MCP_ACCEPT]),
    post('mcp, trailing slash', '/mcp/', INIT, [JSON_TYPE, MCP_ACCEPT]),
    get('mcp, GET without session', '/mcp', [['accept', 'text/event-stream']]),
    { name: 'mcp, DELETE without session', listener: 'socket', method: 'DELETE', target: '/mcp' },
    { name: 'mcp, PUT', listener: 'socket', method: 'PUT', target: '/mcp', headers: [JSON_TYPE], body: INIT },
    { name: 'mcp, HEAD', listener: 'socket', method: 'HEAD', target: '/mcp' },
    { name: 'mcp, OPTIONS', listener: 'socket', method: 'OPTIONS', target: '/mcp' },
    { name: 'mcp, PURGE', listener: 'socket', method: 'PURGE', target: '/mcp' },
    { name: 'mcp, header too large', listener: 'socket', method: 'POST', target: '/mcp', headers: [JSON_TYPE, ['x-big', 'a'.repeat(20_000)]], body: INIT },
    // The loopback listener: Host and Origin must name it.
    { name: 'loopback chat', listener: 'loopback', method: 'POST', target: '/v1/chat/completions', headers: [['host', '127.0.0.1:PORT'], JSON_TYPE], body: CHAT },
    { name: 'loopback chat, localhost', listener: 'loopback', method: 'POST', target: '/v1/chat/completions', headers: [['host', 'LOCALHOST:PORT'], JSON_TYPE], body: CHAT },
    { name: 'loopback chat, foreign host', listener: 'loopback', method: 'POST', target: '/v1/chat/completions', headers: [['host', 'evil.example:PORT'], JSON_TYPE], body: CHAT },
    { name: 'loopback chat, no host', listener: 'loopback', method: 'POST', target: '/v1/chat/completions', headers: [JSON_TYPE], body: CHAT },
    { name: 'loopback chat, foreign origin', listener: 'loopback', method: 'POST', target: '/v1/chat/completions', headers: [['host', '127.0.0.1:PORT'], ['origin', 'http://evil.example'], JSON_TYPE], body: CHAT },
    { name: 'loopback chat, own origin', listener: 'loopback', method: 'POST', target: '/v1/chat/completions', headers: [['host', '127.0.0.1:PORT'], ['origin', 'http://127.0.0.1:PORT'], JSON_TYPE], body: CHAT },
    { name: 'loopback messages, foreign host', listener: 'loopback', method: 'POST', target: '/v1/messages', headers: [['host', 'evil.example'], JSON_TYPE, ANTHROPIC], body: MESSAGES },
    { name: 'loopback mcp, foreign origin', listener: 'loopback', method: 'POST', target: '/mcp', headers: [['host', '127.0.0.1:PORT'], ['origin', 'http://evil.example'], JSON_TYPE, MCP_ACCEPT], body: INIT },
    { name: 'loopback unknown path, foreign host', listener: 'loopback', method: 'GET', target: '/nope', headers: [['host', 'evil.example']] },
    { name: 'loopback absolute-form, foreign host', listener: 'loopback', method: 'GET', target: 'http://evil.example/v1/models', headers: [['host', '127.0.0.1:PORT']] },
    { name: 'loopback chat over the limit, foreign host', listener: 'loopback', method: 'POST', target: '/v1/chat/completions', headers: [['host', 'evil.example'], JSON_TYPE], body: big },
    // The admin port.
    { name: 'admin healthz', listener: 'admin', method: 'GET', target: '/healthz' },
    { name: 'admin readyz', listener: 'admin', method: 'GET', target: '/readyz' },
    { name: 'admin usage', listener: 'admin', method: 'GET', target: '/usage' },
    { name: 'admin metrics', listener: 'admin', method: 'GET', target: '/metrics' },
    { name: 'admin tools', listener: 'admin', method: 'GET', target: '/mcp/tools' },
    { name: 'admin unknown', listener: 'admin', method: 'GET', target: '/nope' },
    { name: 'admin chat', listener: 'admin', method: 'POST', target: '/v1/chat/completions', headers: [JSON_TYPE], body: CHAT },
    { name: 'admin healthz, HEAD', listener: 'admin', method: 'HEAD', target: '/healthz' },
    { name: 'admin healthz, POST', listener: 'admin', method: 'POST', target: '/healthz', headers: [JSON_TYPE], body: '{}' },
    { name: 'admin healthz, query', listener: 'admin', method: 'GET', target: '/healthz?x=1' },
    { name: 'admin, bad escape', listener: 'admin', method: 'GET', target: '/healthz%zz' },
    // Added after the recording; last, so that the usage counts above stay as recorded.
    { name: 'chat, no host', listener: 'socket', method: 'POST', target: '/v1/chat/completions', headers: [JSON_TYPE], body: CHAT, noHost: true },
  ];
}

/** Sends one probe over `connection` and reads what comes back until the server closes or a final answer is complete. */
export async function send(probe: Probe, connection: NetConnectOpts, port: number): Promise<Seen> {
  const lines = [`${probe.method} ${probe.target} HTTP/1.1`];
  const headers = (probe.headers ?? []).map(([k, v]) => [k, v.replace('PORT', String(port))] as const);
  if (probe.listener !== 'loopback' && !probe.noHost && !headers.some(([k]) => k === 'host')) lines.push('host: airlock');
  for (const [k, v] of headers) lines.push(`${k}: ${v}`);
  const body = probe.body === undefined ? undefined : Buffer.from(probe.body);
  if (body && probe.length !== false && !headers.some(([k]) => k === 'content-length')) lines.push(`content-length: ${body.length}`);
  lines.push('connection: close');
  const raw = await new Promise<Buffer>((resolve, reject) => {
    const socket = connect(connection);
    const chunks: Buffer[] = [];
    socket.on('data', (c) => {
      chunks.push(c);
      // A stream answer may leave the connection open (keep-alive): stop at the end of the answer.
      if (complete(Buffer.concat(chunks), probe.method === 'HEAD')) socket.destroy();
    });
    socket.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || (err as NodeJS.ErrnoException).code === 'EPIPE' ? undefined : reject(err)));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.write(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body ?? Buffer.alloc(0)]));
    setTimeout(() => socket.destroy(), 5_000).unref();
  });
  return parse(raw, probe.method === 'HEAD', String(port));
}

/** Whether `raw` holds a whole final answer (its length, or the last chunk, arrived). */
function complete(raw: Buffer, head: boolean): boolean {
  let at = 0;
  for (;;) {
    const end = raw.indexOf('\r\n\r\n', at);
    if (end < 0) return false;
    const lines = raw.subarray(at, end).toString('latin1').toLowerCase();
    if (lines.split(' ')[1] === '100') {
      at = end + 4;
      continue;
    }
    if (head) return true;
    const length = /\r\ncontent-length: *(\d+)/.exec(lines);
    if (length) return raw.length - end - 4 >= Number(length[1]);
    return lines.includes('transfer-encoding: chunked') && raw.subarray(end).includes('\r\n0\r\n\r\n');
  }
}

/** Headers a client acts on; the rest (dates, lengths, keep-alive) vary or are the server's business. */
const KEPT_HEADERS = ['content-type', 'allow', 'retry-after', 'x-airlock-token-count', 'cache-control', 'mcp-session-id'];

function parse(raw: Buffer, head: boolean, port: string): Seen {
  const statuses: number[] = [];
  let rest = raw;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return { statuses: [...statuses, 0], headers: {}, body: rest.toString('latin1').slice(0, 200) };
    const headLines = rest.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(headLines[0]!.split(' ')[1]);
    statuses.push(status);
    rest = rest.subarray(end + 4);
    if (status === 100) continue;
    const all: Record<string, string> = {};
    for (const line of headLines.slice(1)) {
      const colon = line.indexOf(':');
      all[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const headers = Object.fromEntries(KEPT_HEADERS.flatMap((k) => (all[k] === undefined ? [] : [[k, all[k] === '' || k !== 'mcp-session-id' ? all[k]! : '<session>']])));
    if (head) return { statuses, headers, body: rest.length };
    const bytes = all['transfer-encoding'] === 'chunked' ? dechunk(rest) : rest.subarray(0, all['content-length'] === undefined ? undefined : Number(all['content-length']));
    // The loopback port changes from run to run: messages that name it show PORT.
    return { statuses, headers, body: bodyOf(bytes.toString('utf8').replaceAll(`:${port}`, ':PORT'), headers['content-type'] ?? '') };
  }
}

function dechunk(bytes: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = bytes.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(bytes.subarray(at, eol).toString('latin1'), 16);
    if (!(size > 0)) break;
    out.push(bytes.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

/** The body with what changes from call to call (ids, times, metric values) masked. */
function bodyOf(text: string, type: string): unknown {
  if (type.startsWith('text/plain') && text.includes('# HELP')) return '<metrics>';
  if (type.startsWith('text/event-stream')) return { events: text.split('\n').filter((l) => l.startsWith('event:')).slice(0, 4), dataFrames: text.split('\n').filter((l) => l.startsWith('data:')).length };
  if (!type.startsWith('application/json')) return text.slice(0, 200);
  try {
    return mask(JSON.parse(text));
  } catch {
    return text.slice(0, 200);
  }
}

const VOLATILE = new Set(['id', 'created', 'created_at', 'createdAt', 'configHash', 'responseId', 'day', 'since', 'resetAt', 'until', 'instructions', 'serverInfo', 'instance']);

function mask(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(mask);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, VOLATILE.has(k) && v !== null && typeof v !== 'object' ? '<volatile>' : mask(v)]));
}
