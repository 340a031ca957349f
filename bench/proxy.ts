/**
 * `npm run bench`: what the sidecar adds to a model call, side by side with calling the provider
 * directly and with a peer gateway, on the same machine in the same run (these machines are
 * shared and noisy: only same-run deltas and ratios mean something).
 *
 * Processes, as in a pod: the OpenAI-format provider mock, the sidecar (built as it ships), the
 * peer gateway, and this client. Scenarios: plain and streamed chat completions at fixed rates
 * (open loop) and at saturation (closed loop); every round runs every scenario against every
 * target, the order rotating per round. Reported per target: medians over rounds with their
 * spread [min..max] of the added latency (p50, p99, first streamed chunk) against direct,
 * throughput at saturation as a ratio to direct, CPU per request of the target's own process,
 * resident memory (idle, after each round, high-water mark) and the time from start to the first
 * answered request. A benchmark, not a test: nothing here asserts.
 *
 * Environment: BENCH_ROUNDS (3), BENCH_SECONDS per run (3), BENCH_RATES (200,1000),
 * BENCH_CONCURRENCY at saturation (32), BENCH_ONLY (run the scenarios whose name contains this,
 * e.g. `saturation`), BENCH_SETTLE (seconds of unmeasured load before each measured run, 0.5),
 * BENCH_IDLE_WAIT (seconds a process is left alone before its idle memory is read, 35: the sidecar's
 * idle collection waits for 30 s without work, ADR 0017),
 * BENCH_PEERS (portkey | none), BENCH_FLOOR (1 | 0: the floor, bench/floor.ts), BENCH_RELAY (1 | 0: the byte
 * relay, bench/relay.ts), BENCH_BEFORE (another
 * checkout whose sidecar is measured too, for before/after), BENCH_PROFILE (a directory: the
 * sidecars run with --cpu-prof and write their profiles there; see bench/profile-top.ts).
 */
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { fixedRate, saturate, type RunResult } from './load.js';
import { cpuMs, memory, stop, type Memory } from './procs.js';
import { buildSidecar, startFloor, startMockProvider, startPortkey, startRelay, startSidecar, type Target } from './targets.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const RATES = (process.env.BENCH_RATES ?? '200,1000').split(',').map(Number);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const PEERS = process.env.BENCH_PEERS ?? 'portkey';
/** The thinnest correct hop (bench/floor.ts) as a target: what one Node HTTP hop costs here. */
const FLOOR = process.env.BENCH_FLOOR !== '0';
/** The byte relay (bench/relay.ts) as a target: what one more process on the path costs here, HTTP aside. */
const RELAY = process.env.BENCH_RELAY !== '0';
const BEFORE = process.env.BENCH_BEFORE;
const ONLY = process.env.BENCH_ONLY;
/** Seconds of unmeasured load before each measured run (same scenario, same target). */
const SETTLE = Number(process.env.BENCH_SETTLE ?? 0.5);
/** How long a process is left alone before its memory is read as idle (at least 1 s). */
const IDLE_WAIT_MS = Math.max(1, Number(process.env.BENCH_IDLE_WAIT ?? 35)) * 1000;
const root = join(import.meta.dirname, '..');

interface Scenario {
  name: string;
  stream: boolean;
  /** Requests per second, or undefined for saturation. */
  rate?: number;
}

const SCENARIOS: Scenario[] = [
  ...RATES.map((rate) => ({ name: `plain @${rate}/s`, stream: false, rate })),
  { name: 'plain saturation', stream: false },
  ...RATES.slice(0, 1).map((rate) => ({ name: `stream @${rate}/s`, stream: true, rate })),
  { name: 'stream saturation', stream: true },
].filter((s) => !ONLY || s.name.includes(ONLY));

interface Sample {
  p50: number;
  p99: number;
  firstChunk50: number;
  rps: number;
  cpuPerRequest: number;
  errors: number;
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
};
const median = (values: number[]) => percentile(values, 0.5);

async function measure(target: Target, scenario: Scenario): Promise<Sample> {
  const pid = target.process.pid!;
  // Whatever ran before (another scenario's saturation, another target) leaves work behind in
  // this process: a major GC, a heap to shrink, cold code for this path. Without a settling run
  // the first target measured after a heavy scenario pays for it. (That made the socket look
  // slower than TCP at 200/s: in the rotation it was the sidecar's first target after the
  // warm-up and after the previous round's saturation; with this run the gap went away.)
  if (SETTLE > 0) await (scenario.rate ? fixedRate(target.endpoint, scenario.stream, scenario.rate, SETTLE) : saturate(target.endpoint, scenario.stream, CONCURRENCY, SETTLE));
  const cpuBefore = await cpuMs(pid);
  const result: RunResult = scenario.rate ? await fixedRate(target.endpoint, scenario.stream, scenario.rate, SECONDS) : await saturate(target.endpoint, scenario.stream, CONCURRENCY, SECONDS);
  const cpu = (await cpuMs(pid)) - cpuBefore;
  const served = result.latencies.length;
  return {
    p50: percentile(result.latencies, 0.5),
    p99: percentile(result.latencies, 0.99),
    firstChunk50: percentile(result.firstChunk, 0.5),
    rps: served / result.seconds,
    cpuPerRequest: served ? cpu / served : NaN,
    errors: result.errors,
  };
}

const mock = await startMockProvider(root);
const targets: Target[] = [mock.target];
if (RELAY) targets.push(...(await startRelay(root, mock.url)));
if (FLOOR) targets.push(...(await startFloor(root, mock.url)));
console.error('building the sidecar…');
targets.push(...(await startSidecar('airlock', await buildSidecar(root, root), mock.url, true)));
if (BEFORE) targets.push(...(await startSidecar('airlock-before', await buildSidecar(BEFORE, root), mock.url, false)));
if (PEERS.includes('portkey')) targets.push(await startPortkey(mock.url).catch((err: Error) => (console.error(`portkey skipped: ${err.message}`), undefined as never)));
const measured = targets.filter(Boolean);
// One row per process (a sidecar's socket and TCP targets share one), named after its first target.
const processes = measured.filter((t, i) => measured.findIndex((u) => u.process === t.process) === i);

// Memory 1 s after the first answer, and again once the process has been idle for IDLE_WAIT
// (the sidecar gives its young generation back after 30 s of idleness, ADR 0017); then a warm-up
// (JIT, pools) and idle memory again, and once more after the rounds: idle before and after load.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const readAll = async () => new Map(await Promise.all(processes.map(async (t) => [t.process.pid!, await memory(t.process.pid!)] as const)));
await sleep(1_000);
const started = await readAll();
await sleep(IDLE_WAIT_MS - 1_000);
const startedIdle = await readAll();
for (const t of measured) await saturate(t.endpoint, false, 8, 1);
await sleep(IDLE_WAIT_MS);
const idle = await readAll();
const afterRounds = new Map<number, number[]>(processes.map((t) => [t.process.pid!, []]));

const samples = new Map<string, Sample[]>();
const key = (scenario: Scenario, target: Target) => `${scenario.name}|${target.name}`;
for (let round = 0; round < ROUNDS; round++) {
  for (const scenario of SCENARIOS) {
    // Rotate the order each round so no target always runs first (or right after another).
    const order = measured.map((_, i) => measured[(i + round) % measured.length]!);
    for (const target of order) {
      const sample = await measure(target, scenario);
      samples.set(key(scenario, target), [...(samples.get(key(scenario, target)) ?? []), sample]);
    }
  }
  for (const t of processes) afterRounds.get(t.process.pid!)!.push((await memory(t.process.pid!)).rss);
  console.error(`round ${round + 1}/${ROUNDS} done`);
}

const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const spread = (values: number[], digits = 2) => `${fmt(median(values), digits)} [${fmt(Math.min(...values), digits)}..${fmt(Math.max(...values), digits)}]`;

const load = loadavg().map((n) => n.toFixed(1)).join(' / ');
console.log(`\nload average at the end (1 / 5 / 15 min): ${load} on ${availableParallelism()} cores`);
console.log(`${ROUNDS} rounds × ${SECONDS} s per run (after ${SETTLE} s unmeasured on the same target); saturation at ${CONCURRENCY} in flight; mock, gateways and client in separate processes on ${process.platform}/${process.arch}`);
console.log('Latency deltas are per round against direct in the same round: median [min..max] over rounds, in ms.\n');
for (const scenario of SCENARIOS) {
  console.log(`### ${scenario.name}\n`);
  console.log(`| target | p50 | p99 | ${scenario.stream ? 'first chunk p50 | ' : ''}${scenario.rate ? '' : 'throughput | '}CPU ms/request | errors |`);
  console.log(`|---|---|---|${scenario.stream ? '---|' : ''}${scenario.rate ? '' : '---|'}---|---|`);
  const direct = samples.get(key(scenario, mock.target))!;
  for (const target of measured) {
    const own = samples.get(key(scenario, target))!;
    const delta = (field: keyof Sample) => own.map((s, i) => s[field] - direct[i]![field]);
    const isDirect = target === mock.target;
    const cells = [
      isDirect ? `${spread(own.map((s) => s.p50))} ms` : `+${spread(delta('p50'))}`,
      isDirect ? `${spread(own.map((s) => s.p99))} ms` : `+${spread(delta('p99'))}`,
      ...(scenario.stream ? [isDirect ? `${spread(own.map((s) => s.firstChunk50))} ms` : `+${spread(delta('firstChunk50'))}`] : []),
      ...(scenario.rate ? [] : [isDirect ? `${fmt(median(own.map((s) => s.rps)), 0)}/s` : `${spread(own.map((s, i) => s.rps / direct[i]!.rps))}× (${fmt(median(own.map((s) => s.rps)), 0)}/s)`]),
      spread(own.map((s) => s.cpuPerRequest), 3),
      String(own.reduce((n, s) => n + s.errors, 0)),
    ];
    console.log(`| ${target.name}${isDirect ? ' (the mock)' : ''} | ${cells.join(' | ')} |`);
  }
  console.log('');
}
// Round by round, for paired reading (the machine's load moves between rounds, all targets with it).
console.log('### CPU µs per request, round by round\n');
console.log(`| scenario | target | ${Array.from({ length: ROUNDS }, (_, i) => `round ${i + 1}`).join(' | ')} |`);
console.log(`|---|---|${'---|'.repeat(ROUNDS)}`);
for (const scenario of SCENARIOS.filter((s) => !s.rate)) {
  for (const target of measured) console.log(`| ${scenario.name} | ${target.name} | ${samples.get(key(scenario, target))!.map((s) => fmt(s.cpuPerRequest * 1000, 0)).join(' | ')} |`);
}
console.log('');
console.log('### memory and start\n');
// RSS / anonymous / PSS: the file-backed rest of RSS is mostly the node binary, shared by every Node
// process started from the same file (bench/procs.ts, Memory).
console.log('RSS / anonymous / PSS in MiB (PSS counts shared file pages once across the processes mapping them).\n');
const wait = `${fmt(IDLE_WAIT_MS / 1000, 0)} s`;
console.log(`| process | ready after start | CPU to ready | 1 s after the first answer | idle (${wait} after it) | idle after warm-up (${wait}) | RSS after each round | idle after the rounds (${wait}) | high-water mark |`);
console.log('|---|---|---|---|---|---|---|---|---|');
const parts = (m: Memory) => `${fmt(m.rss, 0)} / ${fmt(m.anon, 0)} / ${fmt(m.pss, 0)}`;
await sleep(IDLE_WAIT_MS);
const idleAfterRounds = await readAll();
for (const t of processes) {
  const pid = t.process.pid!;
  const { hwm } = await memory(pid);
  console.log(`| ${t.name.replace(/ socket$/, '')} | ${t.readyMs === undefined ? '—' : `${fmt(t.readyMs, 0)} ms`} | ${t.readyCpuMs === undefined ? '—' : `${fmt(t.readyCpuMs, 0)} ms`} | ${parts(started.get(pid)!)} | ${parts(startedIdle.get(pid)!)} | ${parts(idle.get(pid)!)} | ${afterRounds.get(pid)!.map((r) => fmt(r, 0)).join(', ')} MiB | ${parts(idleAfterRounds.get(pid)!)} | ${fmt(hwm, 0)} MiB |`);
}
for (const t of processes) await stop(t.process);
process.exit(0);
