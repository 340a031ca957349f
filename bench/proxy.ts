/**
 * `npm run bench`: the sidecar's overhead as ratios against calling the provider directly, in
 * the same run (these machines are noisy; absolute numbers mean little here).
 *
 * Three processes, as in a pod: the provider mock, the sidecar (the real CLI), and this client.
 * Baseline: the OpenAI SDK → the OpenAI-format mock. Measured: the same SDK → the sidecar's Unix
 * socket → the same mock (native pass-through), and → an Anthropic-format mock (translated both
 * ways). Plain and streaming requests at a fixed concurrency, rounds alternating baseline and
 * measured; reported as median throughput and latency ratios, and the sidecar's resident memory
 * after the load against its idle size.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import OpenAI from 'openai';
import { Agent, fetch as undiciFetch } from 'undici';
import { stringify } from 'yaml';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const root = join(import.meta.dirname, '..');
const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

function node(args: string[]): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return child;
}

async function firstLine(child: ChildProcess): Promise<string> {
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await once(lines, 'line')) as [string];
  return line;
}

async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

interface Result {
  rps: number;
  p50: number;
  p99: number;
}

async function run(client: OpenAI, model: string, stream: boolean): Promise<Result> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < REQUESTS) {
      const i = next++;
      const t0 = performance.now();
      const messages = [{ role: 'user' as const, content: `benchmark request ${i} with a few more words in it` }];
      if (stream) {
        const s = await client.chat.completions.create({ model, messages, stream: true });
        for await (const _ of s);
      } else {
        await client.chat.completions.create({ model, messages });
      }
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { rps: REQUESTS / seconds, p50: latencies[Math.floor(latencies.length / 2)]!, p99: latencies[Math.floor(latencies.length * 0.99)]! };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const clientFor = (baseURL: string, dispatcher: Agent) =>
  new OpenAI({ apiKey: 'sk-bench-0123456789abcdef', baseURL, maxRetries: 0, fetch: ((url: string, init: object) => undiciFetch(url, { ...init, dispatcher })) as unknown as typeof fetch });

const openaiURL = await firstLine(node(['bench/mock-server.ts', 'openai', 'sk-bench-0123456789abcdef']));
const anthropicURL = await firstLine(node(['bench/mock-server.ts', 'anthropic', 'sk-ant-bench-0123456789abcdef']));
const dir = await mkdtemp(join(tmpdir(), 'airlock-bench-'));
const socketPath = join(dir, 'airlock.sock');
await writeFile(join(dir, 'oa.key'), 'sk-bench-0123456789abcdef');
await writeFile(join(dir, 'an.key'), 'sk-ant-bench-0123456789abcdef');
await writeFile(
  join(dir, 'config.yaml'),
  stringify({
    version: 1,
    sandbox: { name: 'bench' },
    listen: { socket: { path: socketPath }, admin: { host: '127.0.0.1', port: 0 } },
    telemetry: { logLevel: 'warn' },
    providers: [
      { name: 'oa', type: 'openai', baseURL: openaiURL, apiKeys: [{ file: join(dir, 'oa.key') }], models: [{ name: 'gpt-bench' }] },
      { name: 'an', type: 'anthropic', baseURL: anthropicURL, apiKeys: [{ file: join(dir, 'an.key') }], models: [{ name: 'claude-bench' }] },
    ],
  }),
);
const sidecar = spawn(process.execPath, [...(process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROFILE] : []), '--import', 'tsx', 'sidecar/src/cli.ts', 'run', '--config', join(dir, 'config.yaml')], { cwd: root, stdio: 'ignore' });
children.push(sidecar);
for (let i = 0; i < 200; i++) {
  const probe = spawn(process.execPath, ['--import', 'tsx', 'sidecar/src/cli.ts', 'probe', '--socket', socketPath], { cwd: root, stdio: 'ignore' });
  const [code] = (await once(probe, 'close')) as [number];
  if (code === 0) break;
}

const direct = clientFor(openaiURL, new Agent({ connections: CONCURRENCY * 2 }));
const viaSidecar = clientFor('http://airlock/v1', new Agent({ connect: { socketPath }, connections: CONCURRENCY * 2 }));
await run(viaSidecar, 'gpt-bench', false); // warm-up: JIT, pools
const idleRss = await rssKiB(sidecar.pid!);

console.log(`requests ${REQUESTS} per run, concurrency ${CONCURRENCY}, rounds ${ROUNDS}; provider mock, sidecar and client in separate processes`);
for (const stream of [false, true]) {
  const base: Result[] = [];
  const pass: Result[] = [];
  const translated: Result[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    base.push(await run(direct, 'gpt-bench', stream));
    pass.push(await run(viaSidecar, 'gpt-bench', stream));
    translated.push(await run(viaSidecar, 'claude-bench', stream));
  }
  const ratio = (results: Result[], key: keyof Result) => (median(results.map((r) => r[key])) / median(base.map((r) => r[key]))).toFixed(2);
  const kind = stream ? 'stream' : 'plain ';
  console.log(`${kind} pass-through: throughput ${ratio(pass, 'rps')}x, p50 latency ${ratio(pass, 'p50')}x, p99 ${ratio(pass, 'p99')}x of direct`);
  console.log(`${kind} translated:   throughput ${ratio(translated, 'rps')}x, p50 latency ${ratio(translated, 'p50')}x, p99 ${ratio(translated, 'p99')}x of direct (Anthropic mock vs OpenAI mock)`);
}
const loadedRss = await rssKiB(sidecar.pid!);
console.log(`sidecar resident memory: ${(loadedRss / idleRss).toFixed(2)}x its idle size after the load (${Math.round(idleRss / 1024)} MiB idle)`);
sidecar.kill('SIGTERM');
await once(sidecar, 'close');
await rm(dir, { recursive: true, force: true });
process.exit(0);
