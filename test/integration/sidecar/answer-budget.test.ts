/**
 * Answers the agent asks for and never reads stay in the sidecar's memory until it does: many at
 * once took the sidecar past its container's memory limit, killed with the spend it had not yet
 * reported (red team 18: 40 cheap embeddings calls, 16 MiB held each). The answers held at once
 * are bounded (`listen.maxAnswerBytesInFlight`, upstream/answer-budget.ts): past it a passed-through
 * answer is relayed at its client's pace, and the sidecar's memory stays put. The sidecar runs as
 * its own process, as in a pod, and its resident memory is read from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, expect, it } from 'vitest';
import { configIn, stackDir } from './harness.js';
import { chatRequest, open, parseResponses, readAll } from './raw-http.js';

const root = join(import.meta.dirname, '../../..');
const cli = join(root, 'sidecar/src/cli.ts');
/** Each answer: 4 MiB of text, passed through as the provider wrote it. */
const ANSWER_CHARS = 4 * 1024 * 1024;
const CALLS = 24;

let provider: Server;
let child: ChildProcess | undefined;
const clients: Socket[] = [];
let received = 0;

afterAll(async () => {
  for (const c of clients) c.destroy();
  child?.kill('SIGKILL');
  await new Promise((resolve) => provider?.close(resolve));
});

async function residentMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

it('holds at most its answer budget of answers nobody reads, and each is whole when read', async () => {
  const answer = Buffer.from(JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'x'.repeat(ANSWER_CHARS) }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 1000, total_tokens: 1005 } }));
  provider = createServer((req, res) => {
    received++;
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.length }).end(answer));
  });
  await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve));
  const dir = await stackDir();
  const socketPath = join(dir, 'run', 'airlock.sock');
  const config = await configIn(dir, {
    version: 1,
    sandbox: { name: 'answers' },
    listen: { socket: { path: socketPath }, admin: { host: '127.0.0.1', port: 0 }, maxAnswerBytesInFlight: 8 * 1024 * 1024 },
    providers: [{ name: 'compat', type: 'openai-compatible', baseURL: `http://127.0.0.1:${(provider.address() as AddressInfo).port}/v1`, models: [{ name: 'm' }] }],
  });
  child = spawn(process.execPath, ['--import', 'tsx', cli, 'run', '--config', config], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  await expect.poll(() => stdout, { timeout: 30_000, interval: 100 }).toContain('airlock sidecar ready');

  /** A call over the socket whose answer is not read until `read` is called: the sidecar closes the connection after it. */
  const ask = async () => {
    const socket = await open({ path: socketPath });
    clients.push(socket);
    socket.pause();
    socket.write(chatRequest('m', 'a long answer, please', ['Connection: close']));
    return socket;
  };
  /** Reads the whole answer on `socket` (Content-Length, or chunked as a relayed answer is). */
  const read = async (socket: Socket) => {
    const all = readAll(socket);
    socket.resume();
    const [response] = parseResponses((await all).toString('latin1'));
    return { status: response!.status, bodyBytes: response!.body.length };
  };

  // Warm: the code paths loaded and one answer read, so what grows next is the answers held.
  expect(await read(await ask())).toEqual({ status: 200, bodyBytes: answer.length });
  await sleep(500);
  const before = await residentMiB(child.pid!);
  const unread = await Promise.all(Array.from({ length: CALLS }, ask));
  await expect.poll(() => received, { timeout: 60_000, interval: 100 }).toBe(CALLS + 1);
  // What the provider sent is in; the sidecar holds it, or holds the provider back.
  await sleep(2_000);
  const grown = (await residentMiB(child.pid!)) - before;
  // Before: every answer held whole, 24 x 4 MiB (and the copies made on the way): ~100 MiB more.
  expect(grown, `the sidecar grew by ${grown.toFixed(0)} MiB with ${CALLS} answers of 4 MiB unread`).toBeLessThan(48);
  // And an answer relayed at its client's pace is whole when the client reads it.
  for (const socket of unread.slice(-3)) expect(await read(socket)).toEqual({ status: 200, bodyBytes: answer.length });
}, 120_000);
