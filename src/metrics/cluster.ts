import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { ExpositionSource } from './endpoint.js';

/**
 * With WORKERS>1 a scrape reaches one worker, which would report only itself. Each worker's
 * registry is registered with prom-client's cluster support; the worker that is scraped asks
 * the primary, which collects every worker's metrics over IPC and sums them (process metrics by
 * each one's own rule), so one scrape sees the whole instance.
 */

const REQUEST = 'oml:metrics-request';
const RESPONSE = 'oml:metrics-response';
const WAIT_MS = 6000;

type Request = { type: typeof REQUEST; id: string };
type Response = { type: typeof RESPONSE; id: string; text?: string; error?: string };

const isRequest = (message: unknown): message is Request => (message as { type?: unknown } | null)?.type === REQUEST;
const isResponse = (message: unknown): message is Response => (message as { type?: unknown } | null)?.type === RESPONSE;

/** In the primary: answers the workers' requests with the aggregate of every worker. */
export function aggregateWorkerMetrics(): ExpositionSource {
  const aggregator = new AggregatorRegistry();
  const collect: ExpositionSource = async () => ({ contentType: aggregator.contentType, text: await aggregator.clusterMetrics() });
  cluster.on('message', (worker, message: unknown) => {
    if (!isRequest(message)) return;
    collect().then(
      ({ text }) => worker.send({ type: RESPONSE, id: message.id, text } satisfies Response),
      (err: unknown) => worker.send({ type: RESPONSE, id: message.id, error: err instanceof Error ? err.message : String(err) } satisfies Response),
    );
  });
  return collect;
}

/** In a worker: this registry joins the primary's aggregate, and a scrape here returns that aggregate. */
export function workerMetricsSource(registry: Registry): ExpositionSource {
  AggregatorRegistry.setRegistries([registry]);
  // prom-client starts answering the primary's collection requests when an AggregatorRegistry is made.
  new AggregatorRegistry();
  return () =>
    new Promise((resolve, reject) => {
      const id = randomUUID();
      const done = () => {
        clearTimeout(timer);
        process.off('message', onMessage);
      };
      const onMessage = (message: unknown) => {
        if (!isResponse(message) || message.id !== id) return;
        done();
        if (message.text === undefined) reject(new Error(`the primary could not collect the workers' metrics: ${message.error ?? 'no answer'}`));
        else resolve({ contentType: registry.contentType, text: message.text });
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error('the primary did not answer the metrics request in time'));
      }, WAIT_MS);
      process.on('message', onMessage);
      process.send!({ type: REQUEST, id } satisfies Request);
    });
}
