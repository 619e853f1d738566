import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import { beginRequestLog } from './request-log.js';
import { toOriginForm } from './issuer-origin.js';

/** node-oidc-provider's named routes; those of features that are off do not resolve and are skipped. */
const PROVIDER_ROUTES = [
  'authorization',
  'resume',
  'token',
  'userinfo',
  'jwks',
  'end_session',
  'introspection',
  'revocation',
  'pushed_authorization_request',
  'registration',
  'code_verification',
  'device_authorization',
  'backchannel_authentication',
  'discovery',
];

/** The first path segments node-oidc-provider answers under (`/auth`, `/token`, `/.well-known`…). */
export function providerSegments(provider: Provider): Set<string> {
  const segments = new Set<string>(['.well-known']);
  for (const name of PROVIDER_ROUTES) {
    try {
      // Without the mount path: the handler sees paths with the issuer's path taken off.
      const first = firstSegment(provider.pathFor(name, { mountPath: '' }));
      if (first) segments.add(first);
    } catch {
      // A route of a disabled feature.
    }
  }
  return segments;
}

/** The paths node-oidc-provider serves, as route templates (`/auth/:uid`), for metric labels. */
export function providerRouteTemplates(provider: Provider): string[] {
  const templates = ['/.well-known/openid-configuration'];
  for (const name of [...PROVIDER_ROUTES, 'end_session_confirm', 'end_session_success']) {
    try {
      templates.push(decodeURIComponent(provider.pathFor(name, { mountPath: '', uid: ':uid' })));
    } catch {
      // A route of a disabled feature.
    }
  }
  return templates;
}

function firstSegment(url: string): string {
  const end = url.slice(1).search(/[/?]/);
  return end === -1 ? url.slice(1) : url.slice(1, end + 1);
}

/**
 * Takes the issuer's path off a request under it, as Express does for a mounted app: `url` is
 * the rest, `originalUrl` the whole (node-oidc-provider and our pages build their URLs from it).
 */
function underBase(req: IncomingMessage & { originalUrl?: string }, base: string): boolean {
  const url = req.url ?? '/';
  if (url !== base && !url.startsWith(`${base}/`) && !url.startsWith(`${base}?`)) return false;
  req.originalUrl = url;
  const rest = url.slice(base.length);
  req.url = rest.startsWith('/') ? rest : `/${rest}`;
  return true;
}

/**
 * The server's one request handler. Every answer gets the security headers, an X-Request-Id and
 * a request log line here, whoever writes it. node-oidc-provider's own endpoints then go
 * straight to it; everything else goes to our Koa application. Those endpoints need none of our
 * routers, parsers or pages, and going through them cost each authorize, resume and token
 * request more CPU than node-oidc-provider's own work (see bench/README.md). Both see an
 * absolute-form target as its path first (see answerAsIssuer for rule 7).
 */
export function httpHandler(options: {
  /** The issuer's path ('' at the root): requests outside it are not ours; inside, it is taken off. */
  base: string;
  segments: ReadonlySet<string>;
  headers: readonly (readonly [string, string])[];
  provider: RequestListener;
  app: RequestListener;
  /** With metrics on: every answered request is told to `observe` (path without the issuer's path or query); `endpoint`, when set, answers /metrics. */
  metrics?: { observe: RequestObserver; endpoint: RequestListener | null } | null;
}): RequestListener {
  const metrics = options.metrics ?? null;
  return (req: IncomingMessage, res: ServerResponse) => {
    toOriginForm(req);
    const method = req.method ?? 'GET';
    const entry = beginRequestLog(method, (req.url ?? '/').split('?', 1)[0] ?? '/');
    res.setHeader('X-Request-Id', entry.id);
    for (const [name, value] of options.headers) res.setHeader(name, value);
    const outside = options.base !== '' && !underBase(req, options.base);
    const url = req.url ?? '/';
    // 'close' also comes when the client went away before the answer was complete.
    res.once('close', () => {
      const seconds = entry.finish(res.statusCode);
      if (metrics && !outside) metrics.observe(method, url.split('?', 1)[0] ?? '/', res.statusCode, seconds);
    });
    if (outside) {
      res.statusCode = 404;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      return res.end(`Not found: this server answers under ${options.base}/\n`);
    }
    if (metrics?.endpoint && (url === '/metrics' || url.startsWith('/metrics?'))) return metrics.endpoint(req, res);
    return options.segments.has(firstSegment(url)) ? options.provider(req, res) : options.app(req, res);
  };
}

/** Told of each answered request: its method, path (under the issuer), status and duration in seconds. */
export type RequestObserver = (method: string, path: string, status: number, seconds: number) => void;
