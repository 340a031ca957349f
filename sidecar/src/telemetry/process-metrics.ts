/**
 * The process metrics every Prometheus client exports (`process_cpu_seconds_total`,
 * `process_resident_memory_bytes`, `process_open_fds`, `process_max_fds`,
 * `process_start_time_seconds`, …) and Node's heap (`nodejs_heap_size_used_bytes`, …), as
 * prom-client names them, so the dashboards written for them work on the sidecar and the
 * operator alike. prom-client's own collectors, loaded by path: each reads its value when scraped
 * and costs nothing between scrapes. Not its event-loop-lag and GC collectors, which run a timer
 * and an observer all the time (an idle sidecar would wake 100 times a second).
 */
import type { Registry } from 'prom-client';
import processCpuTotal from 'prom-client/lib/metrics/processCpuTotal.js';
import processStartTime from 'prom-client/lib/metrics/processStartTime.js';
import osMemoryHeap from 'prom-client/lib/metrics/osMemoryHeap.js';
import processOpenFileDescriptors from 'prom-client/lib/metrics/processOpenFileDescriptors.js';
import processMaxFileDescriptors from 'prom-client/lib/metrics/processMaxFileDescriptors.js';
import heapSizeAndUsed from 'prom-client/lib/metrics/heapSizeAndUsed.js';

/** Registers the process and heap metrics on `registry`. */
export function registerProcessMetrics(registry: Registry): void {
  for (const collector of [processCpuTotal, processStartTime, osMemoryHeap, processOpenFileDescriptors, processMaxFileDescriptors, heapSizeAndUsed]) collector(registry);
  // prom-client counts CPU from when its collector was made; the process spent some before (its
  // start, the config): counted from the start, as /proc and every other client count it.
  const before = process.cpuUsage();
  const add = (name: string, micros: number) => (registry.getSingleMetric(name) as { inc(value: number): void } | undefined)?.inc(micros / 1e6);
  add('process_cpu_user_seconds_total', before.user);
  add('process_cpu_system_seconds_total', before.system);
  add('process_cpu_seconds_total', before.user + before.system);
}
