/**
 * Counters and histograms whose label sets are resolved once into cells and handed to
 * prom-client's registry at scrape time, so the exposition text is prom-client's own.
 *
 * Why not prom-client's Counter and Histogram: they validate and hash the label object on every
 * `inc`/`observe` (even through `labels()` children), which cost ~8 µs of a model call's CPU in
 * place at saturation (bench/README.md "Round 3: the floor"). Here a caller resolves a label set
 * once ({@link CounterMetric.cell}), keeps the cell (see ./model-series.ts), and counting is a
 * number added to a field. The series a metric exports, their order (first use), their labels (in
 * `labelNames` order), bucket bounds, `_sum` and `_count` are what prom-client would print.
 */
import type { Metric, Registry } from 'prom-client';

type Labels<N extends string> = Partial<Record<N, string | number>>;

/** Key of a label set: its values in `labelNames` order ('\u0001' for a missing one). */
function keyOf<N extends string>(labelNames: readonly N[], labels: Labels<N>): string {
  let key = '';
  for (const name of labelNames) key += `${labels[name] ?? '\u0001'}\u0000`;
  return key;
}

/** The label set in `labelNames` order, rejecting a name the metric does not have (as prom-client does). */
function ordered<N extends string>(metric: string, labelNames: readonly N[], labels: Labels<N>): Labels<N> {
  for (const name in labels) {
    if (!labelNames.includes(name)) throw new Error(`Added label "${name}" is not included in initial labelset of ${metric}: ${JSON.stringify(labelNames)}`);
  }
  const out: Labels<N> = {};
  for (const name of labelNames) if (labels[name] !== undefined) out[name] = labels[name];
  return out;
}

function checkFinite(value: number): void {
  if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
}

/** A metric's name, help, label names and registries, as prom-client's constructors take them. */
export interface MetricConfig<N extends string> {
  name: string;
  help: string;
  labelNames: readonly N[];
  registers: readonly Registry[];
}

/** Cells of one metric by label set, and the ones used so far in first-use order (what is exported). */
abstract class CellMetric<N extends string, C extends { used: boolean }> {
  readonly aggregator = 'sum';
  private readonly cells = new Map<string, C>();
  protected readonly used: C[] = [];

  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly N[];

  constructor(config: MetricConfig<N>) {
    this.name = config.name;
    this.help = config.help;
    this.labelNames = config.labelNames;
    // prom-client's registry reads a metric's name, help, type, aggregator and get() (or
    // getForPromString()) only, which is what these classes provide.
    for (const registry of config.registers) registry.registerMetric(this as unknown as Metric);
  }

  /** The cell of a label set; resolve it once and keep it (counting through it costs no lookup). */
  cell(labels: Labels<N>): C {
    const key = keyOf(this.labelNames, labels);
    let cell = this.cells.get(key);
    if (!cell) {
      cell = this.create(ordered(this.name, this.labelNames, labels));
      this.cells.set(key, cell);
    }
    return cell;
  }

  /** Called by a cell the first time it counts: from then on it is exported. */
  protected adopt(cell: C): void {
    cell.used = true;
    this.used.push(cell);
  }

  protected abstract create(labels: Labels<N>): C;
}

/** One label set of a counter. */
export class CounterCell {
  used = false;
  value = 0;

  constructor(
    readonly labels: Labels<string>,
    private readonly adopt: (cell: CounterCell) => void,
  ) {}

  inc(value = 1): void {
    checkFinite(value);
    if (value < 0) throw new Error('It is not possible to decrease a counter');
    if (!this.used) this.adopt(this);
    this.value += value;
  }
}

/** A Prometheus counter counted through cells. */
export class CounterMetric<N extends string> extends CellMetric<N, CounterCell> {
  readonly type = 'counter';

  /** Counts once on a label set resolved now: for calls off the hot path. */
  inc(labels: Labels<N>, value = 1): void {
    this.cell(labels).inc(value);
  }

  protected create(labels: Labels<N>): CounterCell {
    return new CounterCell(labels, (cell) => this.adopt(cell));
  }

  /** What prom-client's registry prints (and returns as JSON). */
  async get() {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.used.map((c) => ({ value: c.value, labels: c.labels })) };
  }
}

/** One label set of a histogram: counts per bucket (not cumulative), sum and count. */
export class HistogramCell {
  used = false;
  sum = 0;
  count = 0;
  readonly counts: Float64Array;

  constructor(
    readonly labels: Labels<string>,
    private readonly bounds: readonly number[],
    private readonly adopt: (cell: HistogramCell) => void,
  ) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    checkFinite(value);
    if (!this.used) this.adopt(this);
    this.sum += value;
    this.count += 1;
    // Above the last bound a value is only in +Inf (the count), as in prom-client.
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        this.counts[i]! += 1;
        return;
      }
    }
  }
}

/** A Prometheus histogram observed through cells. */
export class HistogramMetric<N extends string> extends CellMetric<N, HistogramCell> {
  readonly type = 'histogram';

  readonly buckets: readonly number[];

  constructor(config: MetricConfig<N> & { buckets: readonly number[] }) {
    super(config);
    this.buckets = [...config.buckets];
  }

  /** Observes once on a label set resolved now: for calls off the hot path. */
  observe(labels: Labels<N>, value: number): void {
    this.cell(labels).observe(value);
  }

  protected create(labels: Labels<N>): HistogramCell {
    return new HistogramCell(labels, this.buckets, (cell) => this.adopt(cell));
  }

  /** The series as prom-client's histogram hands them to the registry: `le` first, then the label set. */
  async getForPromString() {
    const bucket = `${this.name}_bucket`;
    const values: { labels: Record<string, string | number>; sharedLabels: Labels<string>; value: number; metricName: string; exemplar: null | undefined }[] = [];
    for (const cell of this.used) {
      let cumulative = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        cumulative += cell.counts[i]!;
        values.push({ labels: { le: this.buckets[i]! }, sharedLabels: cell.labels, value: cumulative, metricName: bucket, exemplar: null });
      }
      values.push({ labels: { le: '+Inf' }, sharedLabels: cell.labels, value: cell.count, metricName: bucket, exemplar: null });
      values.push({ labels: {}, sharedLabels: cell.labels, value: cell.sum, metricName: `${this.name}_sum`, exemplar: undefined });
      values.push({ labels: {}, sharedLabels: cell.labels, value: cell.count, metricName: `${this.name}_count`, exemplar: undefined });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** As JSON (`registry.getMetricsAsJSON()`): each value's labels with the label set merged in. */
  async get() {
    const data = await this.getForPromString();
    return { ...data, values: data.values.map(({ sharedLabels, labels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } })) };
  }
}
