import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import { log } from '../log.js';

/** Path segments after these carry a secret (a link code) and are never logged. */
const SECRET_AFTER = new Set(['magic', 'passwordless', 'approve']);

/** The request path with every code-bearing segment replaced, and no query string. */
export function redactPath(pathname: string): string {
  const parts = pathname.split('/');
  for (let i = 1; i < parts.length; i += 1) {
    if (SECRET_AFTER.has(parts[i - 1] ?? '') && parts[i]) parts[i] = '[redacted]';
  }
  return parts.join('/');
}

/** One structured line per request, with an id the response also carries (X-Request-Id). */
export function requestLog(): Middleware {
  return async (ctx, next) => {
    const id = randomUUID();
    const started = process.hrtime.bigint();
    ctx.state.requestId = id;
    ctx.set('X-Request-Id', id);
    try {
      await next();
    } finally {
      // node-oidc-provider answers on the raw response, so read the status from there.
      const status = ctx.respond === false ? ctx.res.statusCode : ctx.status;
      log.info('request', {
        requestId: id,
        method: ctx.method,
        path: redactPath(ctx.path),
        status,
        ms: Number((process.hrtime.bigint() - started) / 1000n) / 1000,
      });
    }
  };
}
