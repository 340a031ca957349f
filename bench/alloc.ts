/**
 * `npm run bench:alloc`: how many bytes the sidecar allocates per plain (or, with BENCH_STREAM=1,
 * streamed) call at saturation, and
 * where — a figure that, unlike time, does not move with the machine's load. Each sidecar (this
 * checkout's, and BENCH_BEFORE's when set) runs as it ships in front of the benchmark's mock with
 * the inspector on loopback; after a warm-up, V8's sampling heap profiler records every
 * allocation it samples, including objects the scavenger and the full GC already collected,
 * while BENCH_CONCURRENCY (32) chat completions stay in flight for BENCH_SECONDS (4).
 * The floor (bench/floor.ts, a bare Node relay; BENCH_FLOOR=0 leaves it out) is measured the same
 * way, as what one Node HTTP hop allocates whatever it does.
 * Printed: bytes per request in total, by area (Airlock's own code, undici, Node's internals …),
 * and the functions that allocate most. Sampling is statistical: runs differ by a few per cent.
 */
import { join } from 'node:path';
import { area, label, original, type CallFrame } from './frames.js';
import { saturate } from './load.js';
import { buildSidecar, freePort, startFloor, startMockProvider, startSidecar, type Target } from './targets.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const BEFORE = process.env.BENCH_BEFORE;
const STREAM = process.env.BENCH_STREAM === '1';
/** Whether the floor (bench/floor.ts, a bare Node relay) is measured too, as what one Node hop allocates. */
const FLOOR = process.env.BENCH_FLOOR !== '0';
const TOP = Number(process.env.PROFILE_TOP ?? 15);
/** Bytes between samples: small enough that a request's few dozen objects are seen. */
const INTERVAL = 1024;
const root = join(import.meta.dirname, '..');

interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children: HeapNode[];
}

/** A Chrome DevTools Protocol session over the inspector's WebSocket. */
async function inspect(port: number): Promise<(method: string, params?: object) => Promise<unknown>> {
  const [target] = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
  const socket = new WebSocket(target!.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => ((socket.onopen = resolve), (socket.onerror = reject)));
  const waiting = new Map<number, (result: unknown) => void>();
  socket.onmessage = (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) waiting.get(message.id)?.(message.result);
  };
  let id = 0;
  return (method, params = {}) =>
    new Promise((resolve) => {
      waiting.set(++id, resolve);
      socket.send(JSON.stringify({ id, method, params }));
    });
}

/** A sidecar, or the floor (bench/floor.ts), started by `begin` with the inspector on a free loopback port. */
async function startInspected(begin: () => Promise<Target[]>): Promise<{ target: Target; port: number }> {
  const port = await freePort();
  process.env.NODE_OPTIONS = `--inspect=127.0.0.1:${port}`;
  try {
    const [target] = await begin();
    return { target: target!, port };
  } finally {
    delete process.env.NODE_OPTIONS;
  }
}

async function measure(name: string, target: Target, port: number): Promise<void> {
  const send = await inspect(port);
  await saturate(target.endpoint, STREAM, CONCURRENCY, 2);
  await send('HeapProfiler.enable');
  await send('HeapProfiler.startSampling', { samplingInterval: INTERVAL, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  const result = await saturate(target.endpoint, STREAM, CONCURRENCY, SECONDS);
  const { profile } = (await send('HeapProfiler.stopSampling')) as { profile: { head: HeapNode } };
  const requests = result.latencies.length;
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  const walk = async (node: HeapNode): Promise<void> => {
    if (node.selfSize > 0) {
      const frame = await original(node.callFrame);
      const where = area(frame.url, frame.functionName);
      total += node.selfSize;
      byArea.set(where, (byArea.get(where) ?? 0) + node.selfSize);
      byFunction.set(label(frame), (byFunction.get(label(frame)) ?? 0) + node.selfSize);
    }
    for (const child of node.children) await walk(child);
  };
  await walk(profile.head);
  const per = (bytes: number) => Math.round(bytes / requests).toLocaleString('en');
  console.log(`### ${name}: ${per(total)} bytes per request (${requests} requests, ${result.errors} errors)\n`);
  console.log('| area | bytes per request |\n|---|---|');
  for (const [where, bytes] of [...byArea].sort((a, b) => b[1] - a[1]).slice(0, 10)) console.log(`| ${where} | ${per(bytes)} |`);
  console.log('\n| function | bytes per request |\n|---|---|');
  for (const [where, bytes] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`| \`${where}\` | ${per(bytes)} |`);
  console.log('');
}

const mock = await startMockProvider(root);
const sidecars: { name: string; target: Target; port: number }[] = [];
console.error('building the sidecar…');
const now = await buildSidecar(root, root);
sidecars.push({ name: 'airlock', ...(await startInspected(() => startSidecar('airlock', now, mock.url, false))) });
if (BEFORE) {
  const before = await buildSidecar(BEFORE, root);
  sidecars.push({ name: 'airlock-before', ...(await startInspected(() => startSidecar('airlock-before', before, mock.url, false))) });
}
if (FLOOR) sidecars.push({ name: 'floor', ...(await startInspected(() => startFloor(root, mock.url))) });
for (const { name, target, port } of sidecars) await measure(name, target, port);
// No graceful stop: a sidecar with an inspector session open could wait on it for ever (a run
// with BENCH_BEFORE hung there). Exiting kills every child (bench/procs.ts).
process.exit(0);
