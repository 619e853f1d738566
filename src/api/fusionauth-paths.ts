import type Provider from 'oidc-provider';

/** FusionAuth's OAuth addresses → the node-oidc-provider route that answers each. */
const OAUTH2_ALIASES: Readonly<Record<string, string>> = {
  '/oauth2/authorize': 'authorization',
  '/oauth2/token': 'token',
  '/oauth2/userinfo': 'userinfo',
  '/oauth2/logout': 'end_session',
  '/oauth2/introspect': 'introspection',
  '/oauth2/revoke': 'revocation',
};

/** The provider's own path of a named route; null when its feature is off (the route does not exist). */
function routePath(provider: Provider, name: string): string | null {
  try {
    return provider.pathFor(name, { mountPath: '' });
  } catch {
    return null;
  }
}

/**
 * Addresses FusionAuth integrations hard-code, answered by node-oidc-provider's own routes: the
 * request is re-addressed before its router runs, so an alias behaves exactly as the route it
 * stands for (same checks, same answers, same cookies). Discovery keeps naming the canonical
 * routes, which stay served for the clients that use them.
 * - `/.well-known/jwks.json` → the jwks route (always: it publishes nothing the jwks_uri does not);
 * - with `oauth2`, FusionAuth's `/oauth2/authorize|token|userinfo|logout|introspect|revoke`.
 */
export function fusionAuthPathAliases(provider: Provider, options: { oauth2: boolean }): void {
  const aliases = new Map<string, string>();
  const jwks = routePath(provider, 'jwks');
  if (jwks) aliases.set('/.well-known/jwks.json', jwks);
  if (options.oauth2) {
    for (const [alias, name] of Object.entries(OAUTH2_ALIASES)) {
      const target = routePath(provider, name);
      if (target) aliases.set(alias, target);
    }
  }
  provider.use(async (ctx, next) => {
    const target = aliases.get(ctx.path);
    if (target !== undefined) ctx.path = target;
    await next();
  });
}
