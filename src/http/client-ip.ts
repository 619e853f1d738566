import type Koa from 'koa';
import type { Config } from '../config/schema.js';

/**
 * Who names the client's IP address, for every Koa application that serves a request (ours and
 * node-oidc-provider's), so rate limits, the API and the cross-device page all see the same one.
 *
 * Without `proxy` it is the socket address. With it, X-Forwarded-For is read from the right:
 * each of our `proxyHops` proxies appends the address it saw, so the entry `proxyHops` from the
 * right is the client; entries further left are whatever the client sent and are ignored (Koa
 * otherwise takes the leftmost entry, which the client picks).
 */
export function trustForwardedFor(app: Koa, config: Pick<Config, 'proxy' | 'proxyHops'>): void {
  app.proxy = config.proxy;
  app.maxIpsCount = config.proxy ? config.proxyHops : 0;
}
