/**
 * Reading Prometheus metrics the way a scraper and a dashboard do: the series names each process
 * can export (histograms as _bucket/_sum/_count), the metric names a PromQL query uses, and a
 * parsed /metrics page.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Metrics } from '../../sidecar/src/telemetry/metrics.js';
import { OperatorMetrics } from '../../operator/src/telemetry/metrics.js';

export const dashboardPath = join(import.meta.dirname, '../../charts/airlock/dashboards/airlock.json');

/** Every query of the shipped Grafana dashboard, with its panel title. */
export function dashboardQueries(): { panel: string; expr: string }[] {
  const dashboard = JSON.parse(readFileSync(dashboardPath, 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
  return dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr })));
}

/** Metric names in a PromQL expression: identifiers of Airlock's and the GenAI namespaces. */
export function metricNames(expr: string): string[] {
  // Label matchers in braces and label lists of by/without are not metric names.
  const unquoted = expr
    .replace(/"[^"]*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\b(?:by|without)\s*\([^)]*\)/g, '');
  return [...new Set(unquoted.match(/\b(?:airlock|gen_ai)_[a-z0-9_]+\b/g) ?? [])];
}

/** The series names a registry exports, by process. */
export async function exportedSeries(): Promise<{ sidecar: Set<string>; operator: Set<string> }> {
  const names = async (registry: { getMetricsAsJSON(): Promise<{ name: string; type: unknown }[]> }) =>
    new Set(
      (await registry.getMetricsAsJSON()).flatMap((m) => (String(m.type) === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name])),
    );
  return { sidecar: await names(new Metrics().registry), operator: await names(new OperatorMetrics().registry) };
}

/** One sample of a /metrics page. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (the subset prom-client writes). */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const m of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** Sum of the samples of `name` whose labels include `labels`. */
export function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}

/** The metric names the dashboard queries that `process` exports. */
export async function dashboardMetricsOf(process: 'sidecar' | 'operator'): Promise<Set<string>> {
  const exported = (await exportedSeries())[process];
  return new Set(dashboardQueries().flatMap((q) => metricNames(q.expr)).filter((name) => exported.has(name)));
}

/** The names of `wanted` that no sample of a scrape carries. */
export function missingFrom(samples: Sample[], wanted: Iterable<string>): string[] {
  const present = new Set(samples.map((s) => s.name));
  return [...wanted].filter((name) => !present.has(name));
}
