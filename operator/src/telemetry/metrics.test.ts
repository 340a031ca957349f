import { describe, expect, it } from 'vitest';
import { Metrics } from '@airlock/sidecar/telemetry';
import { OperatorMetrics } from './metrics.js';

describe.each([
  ['sidecar', () => new Metrics().registry],
  ['operator', () => new OperatorMetrics().registry],
])('%s metric names', (_name, registry) => {
  it('follow Prometheus naming: counters end in _total, durations in _seconds, every metric is documented', async () => {
    const all = await registry().getMetricsAsJSON();
    expect(all.length).toBeGreaterThan(5);
    for (const m of all) {
      expect(m.name).toMatch(/^[a-z_][a-z0-9_]*$/);
      expect(m.help.length).toBeGreaterThan(10);
      if (String(m.type) === 'counter') expect(m.name).toMatch(/_total$/);
      if (/duration|time_to/.test(m.name)) expect(m.name).toMatch(/_seconds$/);
    }
  });
});
