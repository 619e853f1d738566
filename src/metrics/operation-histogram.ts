import type { Metric, Registry } from 'prom-client';

interface Series {
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  counts: number[];
  sum: number;
  count: number;
}

/**
 * A histogram with one label, for the hottest path there is (every store call): observing is a
 * map lookup and a few additions. prom-client's Histogram validates and hashes its label set on
 * every observation, which was half the metrics' cost of an API call (`npm run bench:inproc`
 * profile). prom-client still does the exposition and the cluster sums: this object answers
 * `get()` with the values a prom-client histogram gives.
 */
export class OperationHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelName: string,
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  observe(labelValue: string, value: number): void {
    let series = this.#series.get(labelValue);
    if (!series) this.#series.set(labelValue, (series = { counts: new Array<number>(this.buckets.length + 1).fill(0), sum: 0, count: 0 }));
    let bucket = 0;
    while (bucket < this.buckets.length && value > this.buckets[bucket]!) bucket += 1;
    series.counts[bucket]! += 1;
    series.sum += value;
    series.count += 1;
  }

  /** The series in prom-client's shape: cumulative `_bucket`s with `le`, then `_sum` and `_count`. */
  get() {
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    for (const [labelValue, series] of this.#series) {
      let cumulative = 0;
      this.buckets.forEach((bound, i) => {
        cumulative += series.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le: bound, [this.labelName]: labelValue }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', [this.labelName]: labelValue }, value: series.count });
      values.push({ metricName: `${this.name}_sum`, labels: { [this.labelName]: labelValue }, value: series.sum });
      values.push({ metricName: `${this.name}_count`, labels: { [this.labelName]: labelValue }, value: series.count });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.#series.clear();
  }
}
