import { expect } from 'chai';
import { AggregatorRegistry, Registry } from 'prom-client';
import { OperationHistogram } from '../../src/metrics/operation-histogram.js';
import { parseMetrics, valueOf } from '../helpers/prometheus.js';

describe('the store-operation histogram', () => {
  it('exposes cumulative buckets, sum and count per operation, and sums across workers as prom-client histograms do', async () => {
    const registries = [new Registry(), new Registry()];
    registries.forEach((registry, i) => {
      const histogram = new OperationHistogram('x_seconds', 'help', 'operation', [0.001, 0.01], registry);
      histogram.observe('codes.insert', 0.0005 * (i + 1));
      histogram.observe('users.findById', 0.02);
      histogram.observe('users.findById', 0.005);
    });
    const one = parseMetrics(await registries[0]!.metrics());
    const bucket = (families: ReturnType<typeof parseMetrics>, operation: string, le: string) =>
      families[0]!.samples.find((s) => s.name === 'x_seconds_bucket' && s.labels.operation === operation && s.labels.le === le)!.value;
    expect(bucket(one, 'users.findById', '0.001')).to.equal(0);
    expect(bucket(one, 'users.findById', '0.01')).to.equal(1);
    expect(bucket(one, 'users.findById', '+Inf')).to.equal(2);
    expect(valueOf(one, 'x_seconds', { operation: 'users.findById' })).to.equal(2);

    const summed = parseMetrics(await AggregatorRegistry.aggregate(await Promise.all(registries.map((r) => r.getMetricsAsJSON()))).metrics());
    expect(bucket(summed, 'codes.insert', '0.001')).to.equal(2);
    expect(valueOf(summed, 'x_seconds', { operation: 'users.findById' })).to.equal(4);
    expect(summed[0]!.samples.find((s) => s.name === 'x_seconds_sum' && s.labels.operation === 'codes.insert')!.value).to.be.closeTo(0.0015, 1e-9);
  });
});
