/**
 * Preloaded into the benchmark's server processes by `bench/tail.ts` (NODE_OPTIONS=--import):
 * records this process's garbage-collection pauses (start in the epoch clock, duration, kind) and
 * the upstream connections undici opens. On SIGUSR2 it writes what it saw since the last signal to
 * `$BENCH_TAIL_DIR/<pid>.json` and starts over. Plain JavaScript so that a sidecar run from its
 * built `cli.js` (no TypeScript loader) can load it.
 */
import diagnostics from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import process from 'node:process';

const dir = process.env.BENCH_TAIL_DIR;
if (dir) {
  /** @type {[number, number, number][]} [start (epoch ms), duration (ms), kind (perf_hooks constants.NODE_PERFORMANCE_GC_*)] */
  let pauses = [];
  let upstreamConnections = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) pauses.push([performance.timeOrigin + entry.startTime, entry.duration, /** @type {{ kind?: number }} */ (entry.detail)?.kind ?? 0]);
  }).observe({ entryTypes: ['gc'] });
  diagnostics.subscribe('undici:client:connected', () => void (upstreamConnections += 1));
  process.on('SIGUSR2', () => {
    writeFileSync(join(dir, `${process.pid}.json`), JSON.stringify({ pauses, upstreamConnections }));
    pauses = [];
    upstreamConnections = 0;
  });
}
