import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CounterMetric, HistogramMetric } from './cells.js';

const BUCKETS = [0.01, 0.1, 1, 10];

/** The same metrics twice: prom-client's own, and the cells, each on its own registry. */
function pair() {
  const ours = new Registry();
  const theirs = new Registry();
  const config = { name: 'calls_total', help: 'Calls by "route" and status.\nSecond line \\ here.', labelNames: ['route', 'status'] as const };
  const hconfig = { name: 'call_seconds', help: 'Call duration.', labelNames: ['route', 'error_type'] as const, buckets: BUCKETS };
  return {
    ours,
    theirs,
    counter: new CounterMetric({ ...config, registers: [ours] }),
    promCounter: new Counter({ ...config, registers: [theirs] }),
    histogram: new HistogramMetric({ ...hconfig, registers: [ours] }),
    promHistogram: new Histogram({ ...hconfig, registers: [theirs] }),
  };
}

describe('metric cells', () => {
  it('print exactly what prom-client prints for the same counts, series in first-use order', async () => {
    const m = pair();
    const hot = m.counter.cell({ route: 'b', status: '200' });
    const hotSeconds = m.histogram.cell({ route: 'b', error_type: '' });
    for (const [route, status, seconds] of [
      ['b', '200', 0.004],
      ['a', '500', 0.01],
      ['b', '200', 2.5],
      ['quote"and\\slash\nline', '429', 99],
      ['b', '200', 0.1],
      ['a', '500', 0.05],
    ] as const) {
      const error = Number(status) >= 400 ? status : '';
      if (route === 'b') {
        hot.inc();
        hotSeconds.observe(seconds);
      } else {
        m.counter.inc({ route, status });
        m.histogram.observe({ route, error_type: error }, seconds);
      }
      m.promCounter.inc({ route, status });
      m.promHistogram.observe({ route, error_type: error }, seconds);
    }
    m.counter.inc({ route: 'cost', status: '200' }, 0.125);
    m.promCounter.inc({ route: 'cost', status: '200' }, 0.125);
    const ours = await m.ours.metrics();
    expect(ours).toBe(await m.theirs.metrics());
    expect(ours).toContain('call_seconds_bucket{le="+Inf",route="b",error_type=""} 3');
    expect(await m.ours.getMetricsAsJSON()).toEqual(await m.theirs.getMetricsAsJSON());
  });

  it('export nothing for a label set resolved but never counted, as prom-client exports nothing unobserved', async () => {
    const m = pair();
    m.counter.cell({ route: 'idle', status: '200' });
    m.histogram.cell({ route: 'idle', error_type: '' });
    expect(await m.ours.metrics()).toBe(await m.theirs.metrics());
    expect(await m.ours.metrics()).not.toContain('idle');
  });

  it('resolve one cell per label set, whatever the order the labels are given in', () => {
    const m = pair();
    expect(m.counter.cell({ status: '200', route: 'a' })).toBe(m.counter.cell({ route: 'a', status: '200' }));
    expect(m.counter.cell({ route: 'a', status: '200' })).not.toBe(m.counter.cell({ route: 'a', status: '500' }));
  });

  it('refuse what prom-client refuses: a label the metric lacks, a negative or non-finite count', () => {
    const m = pair();
    expect(() => m.counter.cell({ route: 'a', secret: 'x' } as never)).toThrow(/secret/);
    expect(() => m.counter.cell({ route: 'a' }).inc(-1)).toThrow(/decrease/);
    expect(() => m.histogram.cell({ route: 'a' }).observe(Number.NaN)).toThrow(TypeError);
  });
});
