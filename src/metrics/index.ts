import cluster from 'node:cluster';
import type Router from '@koa/router';
import type Provider from 'oidc-provider';
import type { Config } from '../config/schema.js';
import type { Store } from '../storage/types.js';
import type { RequestObserver } from '../http/handler.js';
import type { RequestListener } from 'node:http';
import { providerRouteTemplates } from '../http/handler.js';
import { tapEvents } from '../log.js';
import { Metrics } from './registry.js';
import { observedStore } from './store.js';
import { RouteTemplates } from './routes.js';
import { mountedRouteTemplates } from '../plugin/magic-link.js';
import { metricsEndpoint, type ExpositionSource } from './endpoint.js';
import { workerMetricsSource } from './cluster.js';

/** A server's metrics: the registry, and where a scrape reads it (in a worker, the cluster's sum). */
export interface ServerMetrics {
  registry: Metrics;
  source: ExpositionSource;
  /** `store` with every call timed into the registry. */
  observe(store: Store): Store;
  /** What the HTTP handler needs once the routers exist: request timing, and /metrics unless it has a port of its own. */
  forRequests(provider: Provider, routers: readonly Router[]): { observe: RequestObserver; endpoint: RequestListener | null };
  /** Stops counting audit events. */
  close(): void;
}

/** The metrics of `config` (null when `metrics.enabled` is off): counting audit events from now on. */
export function serverMetrics(config: Config): ServerMetrics | null {
  if (!config.metrics.enabled) return null;
  const registry = new Metrics({ clientIds: config.clients.map((client) => client.client_id), processMetrics: config.metrics.processMetrics });
  const source: ExpositionSource = cluster.isWorker ? workerMetricsSource(registry.registry) : () => registry.exposition();
  const untap = tapEvents((event, fields) => registry.observeEvent(event, fields));
  return {
    registry,
    source,
    observe: (store) => observedStore(store, (operation, seconds, failed) => registry.observeStore(operation, seconds, failed)),
    forRequests(provider, routers) {
      const templates = routeTemplatesOf(provider, routers);
      return {
        observe: (method, path, status, seconds) => registry.observeRequest(method, templates.templateOf(path), status, seconds),
        endpoint: config.metrics.port === null ? metricsEndpoint(source, config.metrics.token) : null,
      };
    },
    close: untap,
  };
}

/** Every route this server answers, as the templates metric labels use (the sign-in pages as the plugin mounted them on `provider`). */
function routeTemplatesOf(provider: Provider, routers: readonly Router[]): RouteTemplates {
  const ourRoutes = routers.flatMap((router) => router.stack.map((layer) => layer.path).filter((path): path is string => typeof path === 'string'));
  return new RouteTemplates([...ourRoutes, ...providerRouteTemplates(provider), ...mountedRouteTemplates(provider), '/metrics']);
}
