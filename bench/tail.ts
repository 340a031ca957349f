/**
 * `npm run bench:tail`: where the slowest requests wait. Plain chat completions at fixed rates
 * against the mock directly, the floor (bench/floor.ts) and the sidecar, interleaved round by
 * round as in `npm run bench`, with a probe preloaded into every server process
 * (bench/tail-probe.mjs) that records its garbage-collection pauses and new upstream connections.
 * Each of the slowest 1 % of requests is matched against the pauses by time: did it overlap one of
 * the target's own pauses, one of the mock's, or neither? Percentiles move with the machine's
 * load; these counts much less, so this is the tool for a shared machine (bench/README.md, round 4).
 *
 * Environment: BENCH_ROUNDS (4), BENCH_SECONDS per run (4), BENCH_RATES (1000,200), BENCH_SETTLE
 * (0.5 s unmeasured on the same target before each run), BENCH_BEFORE (another checkout's sidecar too).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { fixedRate } from './load.js';
import { stop } from './procs.js';
import { buildSidecar, startFloor, startMockProvider, startSidecar, type Target } from './targets.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const RATES = (process.env.BENCH_RATES ?? '1000,200').split(',').map(Number);
const SETTLE = Number(process.env.BENCH_SETTLE ?? 0.5);
const BEFORE = process.env.BENCH_BEFORE;
const root = join(import.meta.dirname, '..');

/** What the probe wrote: pauses as [start (epoch ms), duration (ms), kind]. */
interface Probe {
  pauses: [number, number, number][];
  upstreamConnections: number;
}

interface Sample {
  p50: number;
  p99: number;
  p999: number;
  scavengesPer1k: number;
  pauseMsPer1k: number;
  slowest: { own: number; mock: number; neither: number };
  upstreamConnections: number;
}

const dir = await mkdtemp(join(tmpdir(), 'airlock-bench-tail-'));
// Inherited by every process started from here on: the mock, the floor and the sidecars load the probe.
process.env.BENCH_TAIL_DIR = dir;
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import=${pathToFileURL(join(root, 'bench/tail-probe.mjs')).href}`.trim();

/** Asks a process's probe for what it saw since the last call (and to start over). */
async function probe(pid: number): Promise<Probe> {
  const file = join(dir, `${pid}.json`);
  await rm(file, { force: true });
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 100; i++) {
    try {
      return JSON.parse(await readFile(file, 'utf8')) as Probe;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  throw new Error(`process ${pid} wrote no probe file: is bench/tail-probe.mjs preloaded?`);
}

const overlaps = (start: number, end: number, pauses: Probe['pauses']) => pauses.some(([at, ms]) => at < end && at + ms > start);
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;

async function measure(target: Target, mockPid: number, rate: number): Promise<Sample> {
  const pid = target.process.pid!;
  if (SETTLE > 0) await fixedRate(target.endpoint, false, rate, SETTLE);
  await Promise.all([...new Set([pid, mockPid])].map(probe));
  const result = await fixedRate(target.endpoint, false, rate, SECONDS);
  const own = await probe(pid);
  const mock = pid === mockPid ? { pauses: [], upstreamConnections: 0 } : await probe(mockPid);
  const requests = result.latencies.map((ms, i) => ({ start: result.starts[i]!, end: result.starts[i]! + ms, ms }));
  const sorted = requests.map((r) => r.ms).sort((a, b) => a - b);
  const cut = percentile(sorted, 0.99);
  const slowest = { own: 0, mock: 0, neither: 0 };
  for (const r of requests.filter((q) => q.ms >= cut)) {
    if (overlaps(r.start, r.end, own.pauses)) slowest.own += 1;
    else if (overlaps(r.start, r.end, mock.pauses)) slowest.mock += 1;
    else slowest.neither += 1;
  }
  const perK = 1000 / Math.max(1, requests.length);
  return {
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    p999: percentile(sorted, 0.999),
    scavengesPer1k: own.pauses.filter(([, , kind]) => kind === constants.NODE_PERFORMANCE_GC_MINOR).length * perK,
    pauseMsPer1k: own.pauses.reduce((sum, [, ms]) => sum + ms, 0) * perK,
    slowest,
    upstreamConnections: own.upstreamConnections,
  };
}

const mock = await startMockProvider(root);
const targets: Target[] = [mock.target, ...(await startFloor(root, mock.url))];
console.error('building the sidecar…');
targets.push(...(await startSidecar('airlock', await buildSidecar(root, root), mock.url, true)));
if (BEFORE) {
  targets.push(...(await startSidecar('airlock-before', await buildSidecar(BEFORE, root), mock.url, false)));
}
for (const t of targets) await fixedRate(t.endpoint, false, 500, 1);

const samples = new Map<string, Sample[]>();
for (let round = 0; round < ROUNDS; round++) {
  for (const rate of RATES) {
    for (const target of targets.map((_, i) => targets[(i + round) % targets.length]!)) {
      const key = `${rate}|${target.name}`;
      samples.set(key, [...(samples.get(key) ?? []), await measure(target, mock.target.process.pid!, rate)]);
    }
  }
  console.error(`round ${round + 1}/${ROUNDS} done`);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const spread = (values: number[], digits = 2) => `${median(values).toFixed(digits)} [${Math.min(...values).toFixed(digits)}..${Math.max(...values).toFixed(digits)}]`;
console.log(`\nload average at the end (1 / 5 / 15 min): ${loadavg().map((n) => n.toFixed(1)).join(' / ')}`);
console.log(`${ROUNDS} rounds × ${SECONDS} s per run, plain chat completions; latencies in ms, median [min..max] over rounds; the slowest 1 % per round as own GC / mock GC / neither.\n`);
for (const rate of RATES) {
  console.log(`### plain @${rate}/s\n`);
  console.log('| target | p50 | p99 | p99.9 | scavenges per 1,000 requests | GC pause ms per 1,000 requests | slowest 1 %: own GC / mock GC / neither | new upstream connections |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const target of targets) {
    const own = samples.get(`${rate}|${target.name}`)!;
    const slowest = own.map((s) => `${s.slowest.own}/${s.slowest.mock}/${s.slowest.neither}`).join(', ');
    console.log(`| ${target.name} | ${spread(own.map((s) => s.p50))} | ${spread(own.map((s) => s.p99))} | ${spread(own.map((s) => s.p999))} | ${spread(own.map((s) => s.scavengesPer1k), 1)} | ${spread(own.map((s) => s.pauseMsPer1k), 1)} | ${slowest} | ${own.map((s) => s.upstreamConnections).join(', ')} |`);
  }
  console.log('');
}
for (const t of new Set(targets.map((t) => t.process))) await stop(t);
await rm(dir, { recursive: true, force: true });
process.exit(0);
