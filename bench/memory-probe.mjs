/**
 * Preloaded into a measured process (`node --import ./bench/memory-probe.mjs …`) by
 * bench/idle-memory.ts when it asks for detail: on SIGUSR2 it writes V8's view of its memory to
 * the file named by AIRLOCK_MEMORY_PROBE (JSON), and with AIRLOCK_HEAP_SNAPSHOT set, a heap
 * snapshot to that directory. Plain JavaScript and Node's own modules only, so it adds next to
 * nothing to what it measures (node:v8 and node:fs are loaded by Node itself already).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { getHeapCodeStatistics, getHeapSpaceStatistics, getHeapStatistics, writeHeapSnapshot } from 'node:v8';

process.on('SIGUSR2', () => {
  const out = process.env.AIRLOCK_MEMORY_PROBE;
  if (!out) return;
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, { used: s.space_used_size, committed: s.space_size, physical: s.physical_space_size }]));
  const report = { memoryUsage: process.memoryUsage(), heap: getHeapStatistics(), code: getHeapCodeStatistics(), spaces };
  if (process.env.AIRLOCK_HEAP_SNAPSHOT) report.snapshot = writeHeapSnapshot(join(process.env.AIRLOCK_HEAP_SNAPSHOT, `${process.pid}.heapsnapshot`));
  writeFileSync(out, JSON.stringify(report));
});
