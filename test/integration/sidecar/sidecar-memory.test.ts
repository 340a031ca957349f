/**
 * What the agent sends or leaves unread must not take the sidecar past its container's memory
 * limit (512 MiB): killed, it takes the pod's only door down with the spend it had not yet
 * reported (ADR 14). The sidecar runs as its own process, as in a pod, and its resident memory is
 * read from /proc.
 * - Answers never read stay in memory until they are: 40 cheap embeddings calls held 16 MiB each
 *   (red team 18). The answers held at once are bounded (`listen.maxAnswerBytesInFlight`,
 *   upstream/answer-budget.ts): past it a passed-through answer is relayed at its client's pace.
 * - So do MCP results: a backend's result is read whole (up to 32 MiB) and written to the agent's
 *   response, where it stayed while the agent did not read it. Results count against the same budget;
 *   past it the agent gets an error in the result's place.
 * - A body is parsed into far more than its bytes: 16 MiB of empty objects were ~600 MiB in V8 (red
 *   team 19). A body that would be is refused before it is parsed (server/body.ts MAX_PARSED_BYTES).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { sidecarNodeSettings } from '../../../bench/targets.js';
import { fixtureServer, npmServer } from '../mcp/harness.js';
import { startRawBackend } from '../mcp/http-backends.js';
import { startProcessBackend, type ProcessBackend } from '../mcp/process-backend.js';
import { configIn, stackDir } from './harness.js';
import { chatRequest, exchange, open, parseResponses, readAll, request } from './raw-http.js';

const root = join(import.meta.dirname, '../../..');
const cli = join(root, 'sidecar/src/cli.ts');
/** Each answer: 4 MiB of text, passed through as the provider wrote it. */
const ANSWER_CHARS = 4 * 1024 * 1024;
const CALLS = 24;
const answer = Buffer.from(JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'x'.repeat(ANSWER_CHARS) }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 1000, total_tokens: 1005 } }));

let provider: Server;
let child: ChildProcess | undefined;
let socketPath: string;
const children: ChildProcess[] = [];
const backends: ProcessBackend[] = [];
const clients: Socket[] = [];
let received = 0;

/** The sidecar CLI as its own process, in front of `provider`, with `listen` settings (and any other section) added; resolves once it serves. */
async function sidecarProcess(name: string, listen: Record<string, unknown>, more: Record<string, unknown> = {}, node: { env: Record<string, string>; flags: string[] } = { env: {}, flags: [] }): Promise<{ child: ChildProcess; socketPath: string; output: () => string }> {
  const dir = await stackDir();
  const socketPath = join(dir, 'run', 'airlock.sock');
  const config = await configIn(dir, {
    version: 1,
    sandbox: { name },
    listen: { socket: { path: socketPath }, admin: { host: '127.0.0.1', port: 0 }, ...listen },
    providers: [{ name: 'compat', type: 'openai-compatible', baseURL: `http://127.0.0.1:${(provider.address() as AddressInfo).port}/v1`, models: [{ name: 'm' }] }],
    ...more,
  });
  const child = spawn(process.execPath, [...node.flags, '--import', 'tsx', cli, 'run', '--config', config], { cwd: root, env: { ...process.env, ...node.env }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  await vi.waitFor(() => expect(stdout).toContain('airlock sidecar ready'), { timeout: 30_000, interval: 100 });
  return { child, socketPath, output: () => stdout };
}

beforeAll(async () => {
  provider = createServer((req, res) => {
    received++;
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.length }).end(answer));
  });
  await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve));
  ({ child, socketPath } = await sidecarProcess('memory', { maxAnswerBytesInFlight: 8 * 1024 * 1024 }));
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  for (const c of children) c.kill('SIGKILL');
  for (const b of backends) await b.close();
  await new Promise((resolve) => provider?.close(resolve));
});

async function residentMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** A call over the socket whose answer is not read until `read` is called: the sidecar closes the connection after it. */
async function ask(bytes = chatRequest('m', 'a long answer, please', ['Connection: close']), path = socketPath): Promise<Socket> {
  const socket = await open({ path });
  clients.push(socket);
  socket.pause();
  socket.write(bytes);
  return socket;
}

/** Reads the whole answer on `socket` (Content-Length, or chunked as a relayed answer is). */
async function read(socket: Socket): Promise<{ status: number; body: string }> {
  const all = readAll(socket);
  socket.resume();
  const [response] = parseResponses((await all).toString('latin1'));
  return { status: response!.status, body: response!.body };
}

it('holds at most its answer budget of answers nobody reads, and each is whole when read', async () => {
  // Warm: the code paths loaded and one answer read, so what grows next is the answers held.
  expect(await read(await ask())).toEqual({ status: 200, body: answer.toString('latin1') });
  await sleep(500);
  const before = await residentMiB(child!.pid!);
  const unread = await Promise.all(Array.from({ length: CALLS }, () => ask()));
  await expect.poll(() => received, { timeout: 60_000, interval: 100 }).toBe(CALLS + 1);
  // What the provider sent is in; the sidecar holds it, or holds the provider back.
  await sleep(2_000);
  const grown = (await residentMiB(child!.pid!)) - before;
  // Before: every answer held whole, 24 x 4 MiB (and the copies made on the way): ~100 MiB more.
  expect(grown, `the sidecar grew by ${grown.toFixed(0)} MiB with ${CALLS} answers of 4 MiB unread`).toBeLessThan(48);
  // And an answer relayed at its client's pace is whole when the client reads it.
  for (const socket of unread.slice(-3)) expect((await read(socket)).body.length).toBe(answer.length);
}, 120_000);

/** A body that asks for a model (or lists MCP tools) and carries `x`. */
const carrying = (x: string) => `{"jsonrpc":"2.0","id":1,"method":"tools/list","model":"m","messages":[{"role":"user","content":"hi"}],"x":${x}}`;

it.each([
  // 16 MiB of empty objects: ~600 MiB once parsed before (red team 19), under every byte limit.
  ['a model call', '/v1/chat/completions', () => carrying(`[${'{},'.repeat(5_592_405)}{}]`)],
  ['an MCP message', '/mcp', () => carrying(`[${'{},'.repeat(5_592_405)}{}]`)],
  // 1.2 million distinct keys (a tool schema): counted at 16 bytes each, it passed (red team 20).
  ['a model call with a million distinct keys', '/v1/chat/completions', () => carrying(`{${Array.from({ length: 1_200_000 }, (_, i) => `"k${i}":1`).join(',')}}`)],
])('refuses %s whose body would be far larger once parsed, before parsing it', async (_what, path, body) => {
  const status = 413;
  const text = body();
  const before = await residentMiB(child!.pid!);
  const socket = await ask(request([`POST ${path} HTTP/1.1`, 'Host: airlock', 'Content-Type: application/json', 'Accept: application/json, text/event-stream', `Content-Length: ${Buffer.byteLength(text)}`, 'Connection: close'], text));
  const answered = await read(socket);
  expect(answered.status).toBe(status);
  expect(answered.body).toContain('too many JSON values');
  const grown = (await residentMiB(child!.pid!)) - before;
  expect(grown, `the sidecar grew by ${grown.toFixed(0)} MiB for one 16 MiB body`).toBeLessThan(96);
});

it('closes the connection of a client that stops reading its answer, and counts the call', async () => {
  // A budget of 1 KiB: the first answer is held whole (one alone always is), the second relayed as
  // it comes, at its client's pace; a client that stalls is closed after 500 ms.
  const stalling = await sidecarProcess('stalled', { maxAnswerBytesInFlight: 1024, stalledReaderMs: 500 });
  const asked = received;
  const held = await ask(undefined, stalling.socketPath);
  await vi.waitFor(() => expect(received).toBeGreaterThan(asked));
  const relayed = await ask(undefined, stalling.socketPath);
  const cut = readAll(relayed);
  const requests = async () => {
    const [usage] = parseResponses((await exchange({ path: stalling.socketPath }, request(['GET /v1/usage HTTP/1.1', 'Host: airlock', 'Connection: close']))).toString());
    return (JSON.parse(usage!.body) as { requests: number }).requests;
  };
  // Before: the relay waited on its client for ever, the call never counted (red team 19).
  await vi.waitFor(async () => expect(await requests()).toBe(2), { timeout: 20_000, interval: 200 });
  // Its connection was closed with the answer cut short: no last chunk.
  relayed.resume();
  const bytes = await cut;
  expect(bytes.length).toBeGreaterThan(0);
  expect(bytes.subarray(-5).toString()).not.toBe('0\r\n\r\n');
  held.destroy();
});

it('holds a stored response read back against the answer budget too: a second reader while the first reads nothing gets 503', async () => {
  const small = await sidecarProcess('read-back', { maxAnswerBytesInFlight: 1024 });
  // Translated for an OpenAI-compatible server, so the sidecar keeps it: its output is the 4 MiB answer.
  const body = JSON.stringify({ model: 'm', input: 'a long answer, please' });
  const [created] = parseResponses((await exchange({ path: small.socketPath }, request(['POST /v1/responses HTTP/1.1', 'Host: airlock', 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close'], body))));
  const id = (JSON.parse(created!.body) as { id: string }).id;
  const retrieve = request([`GET /v1/responses/${id} HTTP/1.1`, 'Host: airlock', 'Connection: close']);
  const first = await ask(retrieve, small.socketPath);
  // Before (red team 19): every reader had its own 4 MiB copy held, 40 of them 640 MiB.
  const second = await read(await ask(retrieve, small.socketPath));
  expect(second.status).toBe(503);
  expect(second.body).toContain('maxAnswerBytesInFlight');
  expect((await read(first)).status).toBe(200);
  // Once the first has it, the next reader is served.
  expect((await read(await ask(retrieve, small.socketPath))).status).toBe(200);
});

/** The `mcp` section of a sidecar whose one backend is the SDK fixture server (fixtures/http-server.ts) on stdio, as `fix`. */
function fixtureBackend() {
  const fixture = fixtureServer('http-server.ts');
  return { backends: [{ name: 'fix', prefix: 'fix', transport: 'stdio', stdio: { ...fixture, args: [...fixture.args, 'stdio'] } }] };
}

/** An MCP POST over the socket, with the session's id once there is one; the connection closes after the answer. */
function mcpPost(body: unknown, session?: string): string {
  const json = JSON.stringify(body);
  const head = ['POST /mcp HTTP/1.1', 'Host: airlock', 'Content-Type: application/json', 'Accept: application/json, text/event-stream', `Content-Length: ${Buffer.byteLength(json)}`, 'Connection: close'];
  return request(session ? [...head, `Mcp-Session-Id: ${session}`] : head, json);
}

/** Starts an MCP session on the sidecar at `path`, declaring `capabilities`; its id. */
async function mcpSession(path: string, capabilities: Record<string, unknown> = {}): Promise<string> {
  const [initialized] = parseResponses(await exchange({ path }, mcpPost({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities, clientInfo: { name: 'agent', version: '1' } } })));
  const session = initialized!.headers['mcp-session-id'];
  expect(session).toBeTruthy();
  await exchange({ path }, mcpPost({ jsonrpc: '2.0', method: 'notifications/initialized' }, session));
  return session as string;
}

type McpMessage = { id?: number; method?: string; params?: { message?: string }; result?: { content: { text: string }[] }; error?: { message: string } };

/** The JSON-RPC messages of the MCP response on `socket`, read whole: its event stream's messages, or its JSON. */
async function mcpMessages(socket: Socket): Promise<McpMessage[]> {
  const { status, body } = await read(socket);
  expect(status).toBe(200);
  if (body.startsWith('{')) return [JSON.parse(body) as McpMessage];
  return [...body.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!) as McpMessage);
}

it('holds at most its answer budget of MCP results nobody reads: past it a call is answered with an error, and each result is whole when read', async () => {
  // A real MCP server from npm (stdio) with a 1.5 MiB file, whose result carries it twice (as text and as
  // structured content): two results fit in an 8 MiB budget, a third does not.
  const dir = await stackDir();
  const files = join(dir, 'files');
  await mkdir(files);
  const text = 'x'.repeat(1.5 * 1024 * 1024);
  await writeFile(join(files, 'big.txt'), text);
  const mcp = { backends: [{ name: 'filesystem', prefix: 'fs', transport: 'stdio', stdio: npmServer('mcp-server-filesystem', files) }] };
  const sidecar = await sidecarProcess('mcp-unread', { maxAnswerBytesInFlight: 8 * 1024 * 1024 }, { mcp });
  const session = await mcpSession(sidecar.socketPath);
  const readBig = (id: number) => mcpPost({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'fs__read_text_file', arguments: { path: join(files, 'big.txt') } } }, session);
  const answerIn = async (socket: Socket) => {
    const [answer] = (await mcpMessages(socket)).filter((m) => m.id !== undefined);
    return { text: answer?.result?.content[0]?.text.length, error: answer?.error?.message ?? (answer?.result ? undefined : JSON.stringify(answer).slice(0, 500)) };
  };
  // Warm: the backend answers (once it has started) and its result reads back whole.
  await vi.waitFor(async () => expect(await answerIn(await ask(readBig(1), sidecar.socketPath))).toEqual({ text: text.length, error: undefined }), { timeout: 30_000, interval: 500 });
  await sleep(500);
  const before = await residentMiB(sidecar.child.pid!);
  const calls = 32;
  const audited = () => sidecar.output().split('"audit":"mcp_tool_call"').length - 1;
  const warm = audited();
  const unread = [];
  for (let i = 0; i < calls; i++) unread.push(await ask(readBig(100 + i), sidecar.socketPath));
  // Every call reached the backend and came back (the audit line is written as its result arrives).
  await vi.waitFor(() => expect(audited()).toBe(warm + calls), { timeout: 60_000, interval: 200 });
  await sleep(1_000);
  const grown = (await residentMiB(sidecar.child.pid!)) - before;
  // Before: every result held whole, unread: 250 MiB more for 32 results (50 now).
  expect(grown, `the sidecar grew by ${grown.toFixed(0)} MiB with ${calls} MCP results of 3 MiB (as JSON) unread`).toBeLessThan(120);
  const answers = await Promise.all(unread.map((socket) => answerIn(socket)));
  const results = answers.filter((a) => a.text !== undefined);
  expect(results).toEqual([{ text: text.length, error: undefined }, { text: text.length, error: undefined }]);
  for (const refused of answers.filter((a) => a.text === undefined)) expect(refused.error).toContain('listen.maxAnswerBytesInFlight');
  // Read, they no longer count: the next call is answered.
  expect(await answerIn(await ask(readBig(200), sidecar.socketPath))).toEqual({ text: text.length, error: undefined });
}, 120_000);

it('drops a backend\'s progress while the client of its call does not read, gives a client that reads all of it, and the result of the call whole', async () => {
  const mcp = fixtureBackend();
  const sidecar = await sidecarProcess('mcp-flood', {}, { mcp });
  const session = await mcpSession(sidecar.socketPath);
  const flood = (id: number, ms: number) => mcpPost({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'fix__flood', arguments: { ms, bytes: 4096 }, _meta: { progressToken: `p${id}` } } }, session);
  // Warm: the backend answers (once it has started).
  await vi.waitFor(async () => expect((await mcpMessages(await ask(flood(1, 0), sidecar.socketPath))).at(-1)?.result?.content[0]?.text).toBe('0'), { timeout: 30_000, interval: 500 });
  await sleep(500);
  const before = await residentMiB(sidecar.child.pid!);
  // Eight seconds of 4 KiB progress messages as fast as the backend can, its client reading nothing meanwhile.
  const socket = await ask(flood(2, 8_000), sidecar.socketPath);
  await sleep(9_000);
  const grown = (await residentMiB(sidecar.child.pid!)) - before;
  // Before: every progress message queued for the client, 505 MiB more (red team 21: 1.1 GiB in 20 s);
  // now what is left is the garbage of reading them from the backend, 230 MiB, the same after 4 s.
  expect(grown, `the sidecar grew by ${grown.toFixed(0)} MiB while progress messages of 4 KiB went to a client that did not read`).toBeLessThan(350);
  const messages = await mcpMessages(socket);
  const progress = messages.filter((m) => m.method === 'notifications/progress');
  const sent = Number(messages.at(-1)?.result?.content[0]?.text);
  expect(sent, 'the backend sent more progress than the response may carry').toBeGreaterThan(2 * progress.length);
  expect(progress.length * 4096).toBeLessThanOrEqual(1024 * 1024);
  expect(progress.length).toBeGreaterThan(0);
  // A client that reads as they come gets every one, however much they add up to (red team 23: a
  // budget per response cut a long call's progress at 1 MiB).
  const steady = await mcpMessages(await ask(mcpPost({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'fix__flood', arguments: { ms: 3_000, bytes: 16 * 1024, everyMs: 20 }, _meta: { progressToken: 'p3' } } }, session), sidecar.socketPath));
  const steadySent = Number(steady.at(-1)?.result?.content[0]?.text);
  expect(steadySent * 16 * 1024).toBeGreaterThan(1024 * 1024);
  expect(steady.filter((m) => m.method === 'notifications/progress')).toHaveLength(steadySent);
}, 60_000);

it('reads a stdio server\'s message up to 32 MiB, and past it fails the one call saying why while the server every session shares keeps running', async () => {
  const dir = await stackDir();
  const files = join(dir, 'files');
  await mkdir(files);
  // server-filesystem answers with the text twice: 6 MiB is a 12 MiB line, 17 MiB a 34 MiB one.
  await writeFile(join(files, 'six.txt'), 'x'.repeat(6 * 1024 * 1024));
  await writeFile(join(files, 'seventeen.txt'), 'x'.repeat(17 * 1024 * 1024));
  const mcp = { backends: [{ name: 'filesystem', prefix: 'fs', transport: 'stdio', stdio: npmServer('mcp-server-filesystem', files) }] };
  const sidecar = await sidecarProcess('mcp-stdio-large', {}, { mcp });
  const session = await mcpSession(sidecar.socketPath);
  const call = async (id: number, file: string) => {
    const [answer] = (await mcpMessages(await ask(mcpPost({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'fs__read_text_file', arguments: { path: join(files, file) } } }, session), sidecar.socketPath))).filter((m) => m.id === id);
    return { text: answer?.result?.content[0]?.text.length, error: answer?.error?.message };
  };
  // Before: the SDK's 10 MiB cap closed the transport and killed the server, the call told only "closed the connection" (red team 21).
  await vi.waitFor(async () => expect(await call(1, 'six.txt')).toEqual({ text: 6 * 1024 * 1024, error: undefined }), { timeout: 30_000, interval: 500 });
  expect(await call(2, 'seventeen.txt')).toEqual({ text: undefined, error: 'backend "filesystem": the MCP server sent a message of more than 33554432 bytes; it is not read' });
  expect(await call(3, 'six.txt')).toEqual({ text: 6 * 1024 * 1024, error: undefined });
  expect(sidecar.output()).not.toContain('closed the connection');
}, 90_000);

it('drops a backend\'s log messages while its client leaves its event stream unread, rather than queue them all', async () => {
  const mcp = fixtureBackend();
  const sidecar = await sidecarProcess('mcp-chatter', {}, { mcp });
  const session = await mcpSession(sidecar.socketPath);
  const chatter = (id: number, ms: number) => mcpPost({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'fix__chatter', arguments: { ms, bytes: 4096 } } }, session);
  await vi.waitFor(async () => expect((await mcpMessages(await ask(chatter(1, 0), sidecar.socketPath))).at(-1)?.result?.content[0]?.text).toBe('0'), { timeout: 30_000, interval: 500 });
  // The session's event stream, open and never read.
  const stream = await ask(request(['GET /mcp HTTP/1.1', 'Host: airlock', 'Accept: text/event-stream', `Mcp-Session-Id: ${session}`]), sidecar.socketPath);
  await sleep(500);
  const before = await residentMiB(sidecar.child.pid!);
  const sent = Number((await mcpMessages(await ask(chatter(2, 8_000), sidecar.socketPath))).at(-1)?.result?.content[0]?.text);
  await sleep(1_000);
  const grown = (await residentMiB(sidecar.child.pid!)) - before;
  // Before: every message queued for the stream (red team 21: 361 MiB more; here 327,000 messages).
  expect(grown, `the sidecar grew by ${grown.toFixed(0)} MiB while ${sent} log messages of 4 KiB went to an event stream nobody read`).toBeLessThan(350);
  // Read now, the stream has what was written before it fell behind and after, not the rest.
  stream.resume();
  await sleep(2_000);
  expect(stream.bytesRead, `${stream.bytesRead} bytes of ${sent} log messages of 4 KiB`).toBeLessThan(16 * 1024 * 1024);
  expect(sidecar.output()).toContain('notifications of backends were dropped');
  stream.destroy();

  // The same for resource updates carrying large metadata (red team 24: 938 MiB queued on one unread stream).
  await mcpMessages(await ask(mcpPost({ jsonrpc: '2.0', id: 3, method: 'resources/subscribe', params: { uri: 'airlock+fix+fixture://note' } }, session), sidecar.socketPath));
  const second = await ask(request(['GET /mcp HTTP/1.1', 'Host: airlock', 'Accept: text/event-stream', `Mcp-Session-Id: ${session}`]), sidecar.socketPath);
  await sleep(500);
  const churned = Number((await mcpMessages(await ask(mcpPost({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'fix__churn', arguments: { ms: 4_000, bytes: 256 * 1024 } } }, session), sidecar.socketPath))).at(-1)?.result?.content[0]?.text);
  second.resume();
  await sleep(2_000);
  expect(second.bytesRead, `${second.bytesRead} bytes of ${churned} updates of 256 KiB`).toBeLessThan(16 * 1024 * 1024);
  expect(churned * 256 * 1024).toBeGreaterThan(64 * 1024 * 1024);
  second.destroy();
}, 90_000);

it('passes nothing larger than its bounds to a client, whatever the message: a backend\'s error cut, its requests to the client held, a log message on the event stream bounded', async () => {
  const mcp = fixtureBackend();
  const sidecar = await sidecarProcess('mcp-every-message', { maxAnswerBytesInFlight: 8 * 1024 * 1024 }, { mcp });
  const session = await mcpSession(sidecar.socketPath, { sampling: {} });
  const post = (id: number, method: string, params: unknown) => ask(mcpPost({ jsonrpc: '2.0', id, method, params }, session), sidecar.socketPath);
  await vi.waitFor(async () => expect((await mcpMessages(await post(1, 'tools/call', { name: 'fix__chatter', arguments: { ms: 0, bytes: 1 } }))).at(-1)?.result).toBeDefined(), { timeout: 30_000, interval: 500 });
  // A backend's error of 3 MB (red team 23: a 30 MiB one was queued whole for each unread call).
  const [failed] = await mcpMessages(await post(2, 'resources/read', { uri: 'airlock+fix+fixture://fail/3000000' }));
  expect(failed?.error?.message.length).toBeLessThan(17_000);
  expect(failed?.error?.message).toContain('(cut: the message went on)');
  // The backend asks the client to sample a 3 MiB question on three calls nobody reads: two are held, the third refused to the backend.
  const asking = [await post(3, 'tools/call', { name: 'fix__ask', arguments: { question: 'q', repeat: 3 * 1024 * 1024 } })];
  await sleep(1_000);
  asking.push(await post(4, 'tools/call', { name: 'fix__ask', arguments: { question: 'q', repeat: 3 * 1024 * 1024 } }));
  await sleep(1_000);
  const third = await mcpMessages(await post(5, 'tools/call', { name: 'fix__ask', arguments: { question: 'q', repeat: 3 * 1024 * 1024 } }));
  expect(third.at(-1)?.result?.content[0]?.text).toContain('listen.maxAnswerBytesInFlight');
  for (const socket of asking) socket.destroy();
  // A log message of 2 MiB on the event stream is not passed on (red team 23: 30 MiB to every unread stream).
  const stream = await ask(request(['GET /mcp HTTP/1.1', 'Host: airlock', 'Accept: text/event-stream', `Mcp-Session-Id: ${session}`]), sidecar.socketPath);
  await sleep(500);
  await mcpMessages(await post(6, 'tools/call', { name: 'fix__chatter', arguments: { ms: 1, bytes: 2 * 1024 * 1024 } }));
  stream.resume();
  await sleep(1_000);
  expect(stream.bytesRead).toBeLessThan(64 * 1024);
  stream.destroy();
}, 60_000);

/**
 * The sidecar as its container runs it: the allocator settings and Node flags of its `#!` line
 * (ADR 17), and V8's heap for its memory limit of 512 MiB (operator/src/webhook/settings.ts,
 * charts/airlock/values.yaml). Nothing sets `--max-old-space-size`, so Node sizes the heap from
 * that limit: 256 MiB of old generation (heap_size_limit 259 MiB).
 */
async function asInItsContainer(): Promise<{ env: Record<string, string>; flags: string[] }> {
  const { env, flags } = await sidecarNodeSettings(root);
  return { env, flags: [...flags, '--max-old-space-size=256'] };
}

/** Bytes of text in each of the backend's messages: near mcp/client.ts MAX_MESSAGE_BYTES (32 MiB). */
const LARGE = 30 * 1024 * 1024;

/** Reads `socket` (paused until now) until its text shows one of `markers`, keeping only a tail of it: the marker seen and the bytes read by then. */
function readUntil(socket: Socket, ...markers: string[]): Promise<{ marker: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    let tail = '';
    let bytes = 0;
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      tail = (tail + chunk.toString('latin1')).slice(-(chunk.length + 64));
      const marker = markers.find((m) => tail.includes(m));
      if (marker === undefined) return;
      socket.off('data', onData);
      resolve({ marker, bytes });
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed after ${bytes} bytes without ${markers.join(' or ')}: …${tail.slice(-600)}`)));
    socket.resume();
  });
}

it.each(['stdio', 'streamable-http'] as const)('stays within V8\'s heap in a 512 MiB container while a %s backend sends eight 30 MiB messages at once, and answers after', async (transport) => {
  let mcp: Record<string, unknown> = fixtureBackend();
  if (transport !== 'stdio') {
    const backend = await startProcessBackend(transport);
    backends.push(backend);
    mcp = { backends: [{ name: 'fix', prefix: 'fix', transport, url: backend.url }] };
  }
  const sidecar = await sidecarProcess(`mcp-heap-${transport}`, {}, { mcp }, await asInItsContainer());
  const pid = sidecar.child.pid!;
  const session = await mcpSession(sidecar.socketPath, { sampling: {} });
  const call = (id: number, name: string, args: Record<string, unknown>) => ask(mcpPost({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: `fix__${name}`, arguments: args } }, session), sidecar.socketPath);
  /** The answer to a call, read whole: the length of its result's text, or its error. */
  const answer = async (socket: Socket) => {
    const found = (await mcpMessages(socket)).find((m) => m.id !== undefined && m.method === undefined);
    const text = found?.result?.content[0]?.text;
    return text?.length === LARGE ? LARGE : (text ?? found?.error?.message ?? 'no answer');
  };
  await vi.waitFor(async () => expect(await answer(await call(1, 'count', {}))).toBe('1'), { timeout: 30_000, interval: 500 });
  await sleep(500);
  const before = await residentMiB(pid);
  let peak = before;
  const watch = setInterval(() => void residentMiB(pid).then((mib) => (peak = Math.max(peak, mib)), () => undefined), 20);
  try {
    // Eight questions of 30 MiB to sample at once, each client reading until it has its question
    // whole (it never answers) or its call's answer (the question refused to the backend).
    // Before: 979 MiB at the peak without a heap limit, and past V8's heap with one (red team 24).
    const asking = await Promise.all(Array.from({ length: 8 }, (_, i) => call(10 + i, 'ask', { question: 'q', repeat: LARGE, onCall: true })));
    const asked = await Promise.all(asking.map((socket) => readUntil(socket, '"maxTokens":50', '"result"', '"error"')));
    for (const socket of asking) socket.destroy();
    expect(sidecar.child.exitCode, 'the sidecar exited').toBeNull();
    const askedPeak = peak;
    // Eight results of 30 MiB at once, their clients reading: each is whole, or an error naming the bound.
    const results = await Promise.all((await Promise.all(Array.from({ length: 8 }, (_, i) => call(20 + i, 'big', { bytes: LARGE })))).map(answer));
    expect(sidecar.child.exitCode, 'the sidecar exited').toBeNull();
    for (const refused of results.filter((r) => r !== LARGE)) expect(refused).toContain('maxAnswerBytesInFlight');
    console.info(
      `[heap] ${transport}: RSS ${before.toFixed(0)} MiB before; ${askedPeak.toFixed(0)} MiB at the peak of eight 30 MiB questions (${asked.filter((a) => a.marker === '"maxTokens":50' && a.bytes > LARGE).length} passed on whole); ` +
        `${peak.toFixed(0)} MiB at the peak of eight 30 MiB results (${results.filter((r) => r === LARGE).length} whole)`,
    );
  } finally {
    clearInterval(watch);
  }
  // It still answers: a model call, an MCP call, and a result of 30 MiB whole (one alone always passes).
  expect((await read(await ask(undefined, sidecar.socketPath))).status).toBe(200);
  expect(await answer(await call(2, 'count', {}))).toBe('2');
  expect(await answer(await call(3, 'big', { bytes: LARGE }))).toBe(LARGE);
}, 240_000);

it('gives back what a backend\'s message begun and left unfinished held of the answer budget once its call fails at the backend\'s callMs, though the backend still sends a byte of it now and then', async () => {
  // A Streamable HTTP backend whose tool half answers with half of a 12 MiB result and then a byte of
  // it every 100 ms, its connection open; its tool whole answers 4 MiB. Before (red team 24): the
  // half held its bytes of the budget until the backend closed the connection; then until callMs
  // passed without a byte, which a byte now and then put off for good. Each step waits on what the
  // sidecar reports (the bytes it holds, airlock_answer_bytes_in_flight): timed, a loaded machine
  // read part of the half, then a whole, whose 4 MiB took the half past the budget and had it
  // refused, and every whole after passed.
  const HALF = 6 * 1024 * 1024;
  let trickle: NodeJS.Timeout | undefined;
  const backend = await startRawBackend({
    whole: (id, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: 'y'.repeat(4 * 1024 * 1024) }] } })),
    half: (id, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`event: message\ndata: {"jsonrpc":"2.0","id":${id},"result":{"content":[{"type":"text","text":"${'x'.repeat(HALF)}`);
      trickle = setInterval(() => res.write('x'), 100);
    },
  });
  try {
    // The half's call fails at callMs from its start: the time the test has to see the half held and
    // ask for a whole, which takes well under a second on a loaded machine.
    const mcp = { backends: [{ name: 'half', prefix: 'half', transport: 'streamable-http', url: backend.url, timeouts: { callMs: 20_000 } }] };
    const sidecar = await sidecarProcess('mcp-half', { maxAnswerBytesInFlight: 8 * 1024 * 1024 }, { mcp });
    const adminPort = (JSON.parse(sidecar.output().split('\n').find((line) => line.includes('airlock sidecar ready'))!) as { adminPort: number }).adminPort;
    const held = async () => Number(/^airlock_answer_bytes_in_flight (\S+)$/m.exec(await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text())?.[1]);
    const session = await mcpSession(sidecar.socketPath);
    const call = async (id: number, name: string) => {
      const [answer] = (await mcpMessages(await ask(mcpPost({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: `half__${name}`, arguments: {} } }, session), sidecar.socketPath))).filter((m) => m.id === id);
      return answer?.result ? 'whole' : (answer?.error?.message ?? 'no answer');
    };
    await vi.waitFor(async () => expect(await call(1, 'whole')).toBe('whole'), { timeout: 30_000, interval: 500 });
    // Its result is let go once its client has read it: then the sidecar holds nothing.
    await vi.waitFor(async () => expect(await held()).toBe(0), { timeout: 30_000, interval: 50 });
    // The half alone is held however large; once the sidecar holds all it was sent, a 4 MiB result
    // takes the answers past the 8 MiB budget.
    const halfCall = call(2, 'half');
    await vi.waitFor(async () => expect(await held()).toBeGreaterThan(HALF), { timeout: 30_000, interval: 50 });
    expect(await call(3, 'whole')).toContain('maxAnswerBytesInFlight');
    // The half's call fails at its callMs; its answer is then given up, bytes still coming or not.
    expect(await halfCall).toMatch(/did not answer tools\/call "half" within 20000 ms/);
    await vi.waitFor(async () => expect(await held()).toBe(0), { timeout: 30_000, interval: 50 });
    expect(await call(4, 'whole')).toBe('whole');
  } finally {
    clearInterval(trickle);
    await backend.close();
  }
}, 120_000);
