import Router from '@koa/router';
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { Config } from '../config/schema.js';
import type { Views } from '../render/views.js';
import type { DirectLinkMailer } from '../passwordless/magic-link.js';
import type { RateLimiter } from '../passwordless/rate-limits.js';
import type { Store } from '../storage/types.js';
import type { KeyMaterial } from '../provider/keys.js';
import type { CsrfTokens } from '../http/csrf.js';
import { AppError } from '../http/errors.js';
import { allowedMethods } from '../http/allowed-methods.js';
import { isApiPath } from '../http/error-handler.js';
import type { PasswordlessCodes } from '../passwordless/codes.js';
import { PasswordlessApi } from '../passwordless/api-login.js';
import type { ApiSecondFactor } from '../passwordless/two-factor-login.js';
import { ApiTokenSigner, clientJwtSettings } from '../tokens/jwt.js';
import { ApiRefreshTokens, refreshTokenPolicies } from '../tokens/refresh.js';
import { ApiTokenVerifier } from '../tokens/verify.js';
import { ApiKeyAuthority } from './api-keys.js';
import { providerApplications } from './applications.js';
import { jsonBody } from './body.js';
import { emailedLinkRoutes } from './emailed-link.js';
import { jwtRoutes } from './jwt-routes.js';
import { fusionAuthPathAliases } from './fusionauth-paths.js';
import { openApiDocument } from './openapi.js';
import { tenantGuard } from './tenant.js';
import { TokenCookies } from './token-cookies.js';
import { passwordlessRoutes } from './passwordless-routes.js';
import { userRoutes } from './user-routes.js';
import { twoFactorRoutes } from './two-factor-routes.js';
import type { Events } from '../events/events.js';
import { webhookRoutes } from './webhook-routes.js';

export interface ApiDeps {
  config: Config;
  issuer: string;
  provider: Provider;
  store: Store;
  codes: PasswordlessCodes;
  keys: KeyMaterial;
  views: Views;
  mailer: DirectLinkMailer;
  limiter: RateLimiter;
  csrf: CsrfTokens;
  /** The second factor of API logins; without it no login needs one. */
  secondFactor?: ApiSecondFactor;
  events: Events;
}

export interface RestApi {
  /** Everything under /api. */
  router: Router;
  /** The emailed link's browser routes (/passwordless/<code>, the Continue step under /interaction/<uid>). */
  links: Router;
  /** Answers 404 in the API's shape for /api paths no route took; mount after the routers. */
  fallback: Middleware;
}

/** Builds the FusionAuth-compatible REST API and the routes its emailed links open. */
export function restApi(deps: ApiDeps): RestApi {
  const { config, store } = deps;
  const applications = providerApplications(deps.provider);
  const refreshTokens = new ApiRefreshTokens(store.refreshTokens, config.api.refreshTokenTimeToLiveInMinutes, refreshTokenPolicies(config.clients));
  const jwtSettings = clientJwtSettings(config.clients);
  const signer = new ApiTokenSigner(deps.issuer, deps.keys.jwks, config.api.jwtTimeToLiveInSeconds, config.api.jwtSigningAlgorithm, jwtSettings);
  const verifier = new ApiTokenVerifier(deps.issuer, deps.keys.jwks, jwtSettings);
  fusionAuthPathAliases(deps.provider, { oauth2: config.api.oauth2Paths });
  const api = new PasswordlessApi({ users: store.users, codes: deps.codes, signer, refreshTokens, limiter: deps.limiter, applications, events: deps.events, ...(deps.secondFactor ? { secondFactor: deps.secondFactor } : {}) });
  const authority = new ApiKeyAuthority(config.apiKeys, store.apiKeys);
  const requireKey = authority.require();
  const body = jsonBody();
  const cookies = new TokenCookies(config.clients, deps.issuer.startsWith('https:'), config.api.refreshTokenTimeToLiveInMinutes);

  // Case-sensitive, like FusionAuth's paths and the endpoint names of key permissions: /API/user is no API route.
  const router = new Router({ prefix: '/api', sensitive: true });
  router.use(tenantGuard(config.api.tenantId));
  passwordlessRoutes(router, {
    issuer: deps.issuer,
    api,
    applications,
    mailer: deps.mailer,
    limiter: deps.limiter,
    requireKey,
    authority,
    body,
    cookies,
  });
  jwtRoutes(router, { api, applications, signer, verifier, refreshTokens, requireKey, body, cookies, events: deps.events });
  userRoutes(router, { store, applications, requireKey, body, events: deps.events });
  webhookRoutes(router, { deliveries: store.webhookDeliveries, requireKey });
  if (deps.secondFactor) twoFactorRoutes(router, { api, secondFactor: deps.secondFactor, applications, requireKey, body, cookies, events: deps.events });
  router.get('/openapi.json', (ctx) => {
    ctx.body = openApiDocument(deps.issuer);
  });

  const links = emailedLinkRoutes({ issuer: deps.issuer, provider: deps.provider, views: deps.views, csrf: deps.csrf, users: store.users, codes: deps.codes, api, applications, oauth2Paths: config.api.oauth2Paths });

  // /api paths never reach node-oidc-provider: what the router did not take is a 405 or a 404 here.
  const fallback: Middleware = async (ctx, next) => {
    if (!isApiPath(ctx.path)) return next();
    const allowed = allowedMethods([router], ctx.path);
    if (allowed.length > 0) {
      ctx.set('Allow', allowed.join(', '));
      throw new AppError(405, 'MethodNotAllowed', `${ctx.method} is not allowed here; use ${allowed.join(', ')}.`);
    }
    throw new AppError(404, 'NotFound', 'There is no such API endpoint.');
  };
  return { router, links, fallback };
}

/** The routes of a router as `METHOD /path/{param}` (HEAD left out: it follows GET). */
export function routesOf(router: Router): string[] {
  const out = new Set<string>();
  for (const layer of router.stack) {
    const path = String(layer.path).replace(/:(\w+)/g, '{$1}');
    for (const method of layer.methods) if (method !== 'HEAD') out.add(`${method} ${path}`);
  }
  return [...out].sort();
}
