import type { IncomingMessage } from 'node:http';
import type Koa from 'koa';

/*
 * Rule 7: links are built from the configured issuer, never from the request. node-oidc-provider
 * builds every URL it publishes or redirects to (discovery, the sign-in's resume address, the
 * logout form…) from Koa's `ctx.href`, that is the request's scheme and Host — or, behind a
 * trusted proxy, X-Forwarded-Proto and X-Forwarded-Host. A proxy that forwards its upstream Host,
 * or a client that sends its own Host, would then make discovery name another server.
 * answerAsIssuer replaces `href`; the request's Host then goes unread (node-oidc-provider's only
 * other reader, its default logout page, is replaced by ours).
 */

/** The path an issuer is served under: '' at a host's root, '/oidc' for https://example.com/oidc. */
export function issuerPath(issuer: string): string {
  return new URL(issuer).pathname.replace(/\/$/, '');
}

/**
 * An absolute-form target (`GET http://other.host/auth HTTP/1.1`) becomes its path and query
 * before anything reads the request: `href` is the issuer's origin followed by the target.
 */
export function toOriginForm(req: IncomingMessage): void {
  if (req.url && !req.url.startsWith('/')) req.url = originForm(req.url);
}

function originForm(target: string): string {
  if (!/^[a-z][a-z\d+.-]*:\/\//i.test(target)) return target;
  try {
    const url = new URL(target);
    return `${url.pathname}${url.search}`;
  } catch {
    return target;
  }
}

/**
 * The scheme too: a Koa application's `href` (and `URL`) starts with the issuer's origin. Koa's
 * `protocol` and `secure` stay the request's own, because they decide whether cookies are
 * Secure (README: "whenever the request came over TLS, directly or a trusted proxy says so"),
 * while an https issuer's links are https whether or not this hop was. (Koa's `origin` is the
 * Origin request header, which this leaves alone.)
 */
export function answerAsIssuer(app: Koa, issuer: string): void {
  const origin = new URL(issuer).origin;
  // Under an issuer's path the handler took the path off `url` and kept the whole in `originalUrl` (see httpHandler).
  const target = (request: Koa.Request) => (request.req as { originalUrl?: string }).originalUrl ?? request.originalUrl;
  Object.defineProperties(app.request, {
    href: {
      get(this: Koa.Request) {
        return `${origin}${target(this)}`;
      },
      configurable: true,
    },
    URL: {
      get(this: Koa.Request) {
        // Joined, not resolved: a target of `//other.host/x` is a path on the issuer. Like Koa's
        // own getter, a target that makes no URL gives an empty object rather than a throw.
        try {
          return new URL(`${origin}${target(this)}`);
        } catch {
          return Object.create(null) as URL;
        }
      },
      configurable: true,
    },
  });
}
