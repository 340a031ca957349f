import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OperatorMetrics } from './metrics.js';
import { parseExposition, total } from '../../../test/telemetry/exposition.js';
import { Metrics } from '@airlock/sidecar/telemetry';

const PROCESS_METRICS = [
  'process_cpu_user_seconds_total',
  'process_cpu_system_seconds_total',
  'process_cpu_seconds_total',
  'process_start_time_seconds',
  'process_resident_memory_bytes',
  'process_virtual_memory_bytes',
  'process_heap_bytes',
  'process_open_fds',
  'process_max_fds',
  'nodejs_heap_size_total_bytes',
  'nodejs_heap_size_used_bytes',
  'nodejs_external_memory_bytes',
];

describe('process metrics', () => {
  it("are the process's own, read when scraped, on the sidecar's and the operator's /metrics", async () => {
    for (const registry of [new Metrics().registry, new OperatorMetrics().registry]) {
      // Work between two scrapes shows in the CPU counter: it is read at scrape time.
      const first = parseExposition(await registry.metrics());
      const until = process.cpuUsage().user + 50_000;
      while (process.cpuUsage().user < until);
      const samples = parseExposition(await registry.metrics());
      expect(PROCESS_METRICS.filter((name) => !samples.some((s) => s.name === name))).toEqual([]);
      expect(total(samples, 'process_cpu_user_seconds_total') - total(first, 'process_cpu_user_seconds_total')).toBeGreaterThanOrEqual(0.05);
      // From the process's start, not from when the metrics were made.
      const cpu = process.cpuUsage();
      expect(total(samples, 'process_cpu_seconds_total')).toBeGreaterThan(((cpu.user + cpu.system) / 1e6) * 0.9);
      expect(total(samples, 'process_cpu_seconds_total')).toBeLessThanOrEqual((cpu.user + cpu.system) / 1e6 + 0.01);
      const rss = process.memoryUsage.rss();
      expect(total(samples, 'process_resident_memory_bytes')).toBeGreaterThan(rss / 2);
      expect(total(samples, 'process_resident_memory_bytes')).toBeLessThan(rss * 2);
      expect(Math.abs(total(samples, 'process_start_time_seconds') - (Date.now() / 1000 - process.uptime()))).toBeLessThan(2);
      const fds = readdirSync('/proc/self/fd').length;
      expect(Math.abs(total(samples, 'process_open_fds') - fds)).toBeLessThan(10);
      const soft = Number(/^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))![1]);
      expect(total(samples, 'process_max_fds')).toBe(soft);
    }
  });

  it('keep no timer or observer running between scrapes (an idle sidecar stays asleep)', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const metrics = new Metrics();
    await metrics.registry.metrics();
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(before);
    // prom-client's event-loop-lag and GC collectors would add these.
    expect((await metrics.registry.getMetricsAsJSON()).map((m) => m.name).filter((name) => name.startsWith('nodejs_eventloop') || name.startsWith('nodejs_gc'))).toEqual([]);
  });
});
