import Provider, { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config/schema.js';
import type { Store, UserRepository } from '../storage/types.js';
import { claimsOf, scopeClaims } from '../accounts/claims.js';
import { canSignIn, issuedToThisUser } from '../accounts/users.js';
import { mayUseClient } from '../passwordless/magic-link.js';
import type { Views } from '../render/views.js';
import { describeError, log } from '../log.js';
import type { KeyMaterial } from './keys.js';
import { EXTRA_CLIENT_METADATA, clientPolicy, providerClients } from './clients.js';
import { renderProviderError, renderLogoutPage, renderLoggedOutPage } from './pages.js';
import { UNAVAILABLE_DESCRIPTION, answerUnavailable, isStoreUnavailable } from './unavailable.js';
import { ACR_MULTI_FACTOR, HAS_SECOND_FACTOR } from './two-factor-prompt.js';
import { hasAuthenticator } from '../accounts/two-factor.js';
import { trustForwardedFor } from '../http/client-ip.js';
import { answerAsIssuer } from '../http/issuer-origin.js';
import { redactPath } from '../http/request-log.js';

export interface ProviderDeps {
  config: Config;
  issuer: string;
  store: Store;
  keys: KeyMaterial;
  views: Views;
  /** The magic-link plugin's interaction policy and URL (`MagicLink.interactions()`). */
  interactions: NonNullable<Configuration['interactions']>;
}

type OidcClient = NonNullable<KoaContextWithOIDC['oidc']['client']>;

function isFirstParty(client: OidcClient): boolean {
  return (client as unknown as Record<string, unknown>).first_party === true;
}

function requiresPkce(client: OidcClient): boolean {
  return client.clientAuthMethod === 'none' || (client as unknown as Record<string, unknown>).require_pkce === true;
}

/**
 * The account behind a session (authorization requests) or a token (code and refresh grants,
 * userinfo). Answers none — so node-oidc-provider asks for a new sign-in, or refuses the token —
 * when the user cannot sign in (locked, expired, deleted), when the client's own rules refuse
 * the user (require_registration, passwordless_enabled: a session from another client must not
 * get around them), or when the session or token was issued before the user was last locked.
 */
function findAccount(users: UserRepository): NonNullable<Configuration['findAccount']> {
  return async (ctx, sub, token) => {
    const user = await users.findById(sub);
    if (!user || !canSignIn(user)) return undefined;
    const issuedAt = token ? token.iat : ctx.oidc.session?.loginTs;
    if (issuedAt !== undefined && !issuedToThisUser(user, issuedAt)) return undefined;
    const client = ctx.oidc.client;
    if (client && !mayUseClient(user, clientPolicy(client as unknown as Parameters<typeof clientPolicy>[0]))) return undefined;
    const claims = { ...claimsOf(user), sub: user.id };
    return { accountId: user.id, claims: () => claims, [HAS_SECOND_FACTOR]: hasAuthenticator(user) };
  };
}

/**
 * Our own authorization parameter, set from the request's `scope` alone: whether it named
 * offline_access. node-oidc-provider takes offline_access out of `scope` unless the request asks
 * for consent, which a first-party client never needs to.
 */
export const ASKED_OFFLINE_ACCESS = 'oml_offline_access';

/**
 * Notes on an authorization request (GET) whether its scope named offline_access, as a parameter
 * node-oidc-provider keeps with the sign-in; a value the client sent itself is replaced.
 */
function rememberOfflineAccess(provider: Provider): Parameters<Provider['use']>[0] {
  const authorizationPath = provider.pathFor('authorization', { mountPath: '' });
  return async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path === authorizationPath && (ctx.query.scope !== undefined || ctx.query[ASKED_OFFLINE_ACCESS] !== undefined)) {
      const { [ASKED_OFFLINE_ACCESS]: _sent, ...query } = ctx.query;
      const asked = typeof query.scope === 'string' && query.scope.split(' ').includes('offline_access');
      ctx.query = asked ? { ...query, [ASKED_OFFLINE_ACCESS]: '1' } : query;
    }
    return next();
  };
}

/**
 * A first-party client that asked for offline_access has it granted (it gets a refresh token
 * anyway, see issueRefreshToken): the token response then says so, and a client library that
 * repeats its requested scopes on refresh (Authlib, RFC 6749 §6) is not refused.
 */
function restoreOfflineAccess(params: KoaContextWithOIDC['oidc']['params'], client: OidcClient): void {
  if (params?.[ASKED_OFFLINE_ACCESS] !== '1' || !client.grantTypeAllowed('refresh_token')) return;
  if (!String(params.response_type ?? '').split(' ').includes('code')) return;
  const scopes = String(params.scope ?? '').split(' ').filter(Boolean);
  if (!scopes.includes('offline_access')) params.scope = [...scopes, 'offline_access'].join(' ');
}

/**
 * First-party clients skip consent: their grant covers whatever OIDC scopes and claims the
 * request names (offline_access too, when it named it). Other clients keep the grant the user
 * consented to.
 */
async function loadExistingGrant(ctx: KoaContextWithOIDC) {
  const { oidc } = ctx;
  const client = oidc.client as OidcClient;
  const grantId = oidc.result?.consent?.grantId || oidc.session!.grantIdFor(client.clientId);
  const existing = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
  if (!isFirstParty(client)) return existing;
  restoreOfflineAccess(oidc.params, client);

  const accountId = oidc.session!.accountId!;
  const grant =
    existing && existing.accountId === accountId ? existing : new oidc.provider.Grant({ clientId: client.clientId, accountId });
  grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
  const claims = [...oidc.requestParamClaims];
  if (claims.length > 0) grant.addOIDCClaims(claims);
  await grant.save();
  return grant;
}

/** Our CORS rule, the same as node-oidc-provider's default: public clients and userinfo, from a redirect URI's origin. */
function clientBasedCORS(ctx: KoaContextWithOIDC, origin: string, client: OidcClient): boolean {
  if (origin === 'null') return false;
  if (ctx.oidc.route !== 'userinfo' && client.clientAuthMethod !== 'none') return false;
  return (client.redirectUris ?? []).some((uri) => {
    try {
      return new URL(uri).origin === origin;
    } catch {
      return false;
    }
  });
}

export function providerConfiguration(deps: ProviderDeps): Configuration {
  const { config, issuer, store, keys, views } = deps;
  return {
    adapter: (name: string) => store.oidcAdapter(name),
    clients: providerClients(config, issuer, keys.cookieKeys),
    findAccount: findAccount(store.users),
    jwks: keys.jwks as Configuration['jwks'],
    cookies: { keys: keys.cookieKeys },
    claims: Object.fromEntries(Object.entries(scopeClaims).map(([k, v]) => [k, [...v]])),
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    acrValues: [ACR_MULTI_FACTOR],
    responseTypes: ['code'],
    conformIdTokenClaims: false,
    extraClientMetadata: { properties: [...EXTRA_CLIENT_METADATA] },
    extraParams: [ASKED_OFFLINE_ACCESS],
    pkce: { required: (_ctx, client) => requiresPkce(client) },
    clientBasedCORS,
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') && (code.scopes.has('offline_access') || isFirstParty(client)),
    loadExistingGrant,
    interactions: deps.interactions,
    features: {
      devInteractions: { enabled: false },
      resourceIndicators: { enabled: false },
      revocation: { enabled: true, allowedPolicy: revokedOnlyByItsClient },
      introspection: { enabled: true, allowedPolicy: introspectedOnlyByItsClient },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx, form) => renderLogoutPage(views, ctx, form),
        postLogoutSuccessSource: (ctx) => renderLoggedOutPage(views, ctx),
      },
    },
    renderError: (ctx, out, error) => renderProviderError(views, ctx, out, error),
    ttl: config.ttl as Configuration['ttl'],
  };
}

/** The node-oidc-provider instance, configured for magic-link sign-in. */
export function buildProvider(deps: ProviderDeps): Provider {
  const provider = new Provider(deps.issuer, providerConfiguration(deps));
  trustForwardedFor(provider, deps.config);
  // Every URL node-oidc-provider publishes or redirects to is on the issuer (rule 7).
  answerAsIssuer(provider, deps.issuer);
  provider.use(rememberOfflineAccess(provider));
  provider.on('server_error', (ctx, err) => {
    // Emitted before the response is written, so the status can still change.
    if (isStoreUnavailable(err)) {
      answerUnavailable(ctx);
      log.warn('oidc.store_unavailable', { path: redactPath(ctx.path), ...describeError(err) });
      return;
    }
    log.error('oidc.server_error', describeError(err));
  });
  // node-oidc-provider saves the session after a route has answered (ensureSessionSave), outside
  // its own error handling: an outage there reached Koa's bare 500. This runs around every route.
  provider.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (!isStoreUnavailable(err)) throw err;
      log.warn('oidc.store_unavailable', { path: redactPath(ctx.path), ...describeError(err) });
      // A store error can only come from a route, which has set up ctx.oidc.
      const routeCtx = ctx as unknown as KoaContextWithOIDC;
      await renderProviderError(deps.views, routeCtx, { error: 'server_error', error_description: UNAVAILABLE_DESCRIPTION }, err);
      answerUnavailable(routeCtx);
    }
  });
  provider.on('authorization.error', (_ctx, err) => log.info('oidc.authorization_error', describeError(err)));
  provider.on('grant.error', (_ctx, err) => log.info('oidc.grant_error', describeError(err)));
  return provider;
}

type TokenPolicy = NonNullable<NonNullable<NonNullable<Configuration['features']>['introspection']>['allowedPolicy']>;

/**
 * Introspection tells a client about its own tokens only (RFC 7662 §4: the server decides who may
 * learn about a token); another client's token reads `active: false`. node-oidc-provider's default
 * answered any confidential client, and printed a notice on stdout asking to replace it.
 */
const introspectedOnlyByItsClient: TokenPolicy = async (_ctx, client, token) => token.clientId === client.clientId;

/**
 * A token is revoked only by the client it was issued to (RFC 7009 §2.1). A confidential client
 * asking for another's is refused; a public one, which proves nothing, gets the answer an unknown
 * token gets. Set here so node-oidc-provider prints no notice about its default.
 */
const revokedOnlyByItsClient: TokenPolicy = async (_ctx, client, token) => {
  if (token.clientId === client.clientId) return true;
  if (client.clientAuthMethod === 'none') return false;
  throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
};
