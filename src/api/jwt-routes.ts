import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { ApplicationDirectory, PasswordlessApi } from '../passwordless/api-login.js';
import type { ApiTokenSigner } from '../tokens/jwt.js';
import type { ApiRefreshTokens } from '../tokens/refresh.js';
import { log } from '../log.js';
import type { Events } from '../events/events.js';
import { fieldError, parseInput } from './validation.js';
import type { ApiTokenVerifier } from '../tokens/verify.js';
import { listRefreshTokensQuery, logoutRequest, refreshRequest, revokeRefreshRequest } from './schemas.js';
import type { TokenCookies } from './token-cookies.js';
import { answerEmpty } from './respond.js';

/**
 * The JWT a caller presents: `Authorization: Bearer <jwt>` (or FusionAuth's `JWT <jwt>`), else
 * the `access_token` cookie FusionAuth's hosted login writes. Null when there is none.
 */
function presentedJwt(ctx: Context): string | null {
  const match = /^(?:bearer|jwt)\s+(\S+)\s*$/i.exec(ctx.get('authorization'));
  const token = match?.[1] ?? ctx.cookies.get('access_token') ?? null;
  return token && token.length <= 8192 ? token : null;
}

export interface JwtRouteDeps {
  /** Revocations, written before the answer (webhooks). */
  events: Events;
  api: PasswordlessApi;
  applications: ApplicationDirectory;
  signer: ApiTokenSigner;
  verifier: ApiTokenVerifier;
  refreshTokens: ApiRefreshTokens;
  requireKey: Middleware;
  body: Middleware;
  cookies: TokenCookies;
}

/** The refresh token of POST /api/jwt/refresh: the `refresh_token` cookie FusionAuth's login writes wins over the body, as in FusionAuth. */
function refreshTokenInput(ctx: Context): unknown {
  const body = (ctx.request.body ?? {}) as Record<string, unknown>;
  const cookie = ctx.cookies.get('refresh_token');
  return cookie ? { ...body, refreshToken: cookie } : body;
}

/**
 * FusionAuth's JWT API: GET /api/jwt/validate and GET /api/jwt/public-key take no API key, as in
 * FusionAuth (the JWT is its own credential, public keys are public); POST /api/jwt/refresh takes
 * none either (holding the refresh token is the proof); DELETE /api/jwt/refresh needs a key.
 */
export function jwtRoutes(router: Router, deps: JwtRouteDeps): void {
  router.get('/jwt/validate', async (ctx) => {
    const token = presentedJwt(ctx);
    const claims = token === null ? null : await deps.verifier.verify(token);
    ctx.set('Cache-Control', 'no-store');
    if (!claims) return answerEmpty(ctx, 401);
    ctx.body = { jwt: claims };
  });

  router.post('/jwt/refresh', deps.body, async (ctx) => {
    const input = parseInput(refreshRequest, refreshTokenInput(ctx));
    const refreshed = await deps.api.refresh(input.refreshToken, deps.applications);
    ctx.set('Cache-Control', 'no-store');
    // FusionAuth's answer to a token it will not exchange: 400 naming the field.
    if (!refreshed) throw fieldError('refreshToken', 'invalid', 'The refresh token is unknown, expired, revoked or already used, or its user can no longer sign in.');
    ctx.body = refreshed.answer;
    deps.cookies.write(ctx, refreshed.applicationId, refreshed.answer);
  });

  /** FusionAuth's retrieve: a user's refresh tokens (API key). Their values are not kept here, so none is shown; the ids are. */
  router.get('/jwt/refresh', deps.requireKey, async (ctx) => {
    const { userId } = parseInput(listRefreshTokensQuery, ctx.query);
    const records = await deps.refreshTokens.listFor(userId);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { refreshTokens: records.map((r) => ({ id: r.id, applicationId: r.applicationId, userId: r.userId, insertInstant: r.insertInstant, startInstant: r.startInstant, expirationInstant: r.expiresAt })) };
  });

  /** Revocation by an administrator (API key): a token, a user's tokens, an application's, or a user's for one application. */
  router.delete('/jwt/refresh', deps.requireKey, deps.body, async (ctx) => {
    const input = parseInput(revokeRefreshRequest, { ...((ctx.request.body ?? {}) as Record<string, unknown>), ...ctx.query });
    // Each revocation and its event in one step of the store (Events.atomically).
    if (input.token !== undefined) {
      const token = input.token;
      const found = await deps.events.atomically(async (step) => {
        const revokedOne = await deps.refreshTokens.revokeToken(token);
        if (revokedOne) step.emit('jwt.refresh-token.revoke', { fields: { reason: 'token' }, info: { ipAddress: ctx.ip } });
        return revokedOne;
      });
      if (!found) return answerEmpty(ctx, 404);
      log.info('refresh.revoked', { by: 'token' });
      return answerEmpty(ctx, 200);
    }
    const by = input.applicationId !== undefined ? (input.userId !== undefined ? 'user_application' : 'application') : 'user';
    const revoked = await deps.events.atomically(async (step) => {
      const count = await deps.refreshTokens.revokeFor({ ...(input.userId !== undefined ? { userId: input.userId } : {}), ...(input.applicationId !== undefined ? { applicationId: input.applicationId } : {}) });
      step.emit('jwt.refresh-token.revoke', { userId: input.userId ?? null, applicationId: input.applicationId ?? null, fields: { reason: by, revoked: count }, info: { ipAddress: ctx.ip } });
      return count;
    });
    log.info('refresh.revoked', { by, user: input.userId ?? null, client: input.applicationId ?? null, revoked });
    answerEmpty(ctx, 200);
  });

  /**
   * FusionAuth's logout API: revokes the refresh token (the body's or the cookie's; with `global`,
   * every token of its user) and clears the token cookies. No key: the token is the proof, and
   * without one there is only the cookies to clear. Answers 200 either way, so a repeated logout
   * is harmless and an unknown token tells nothing.
   */
  router.post('/logout', deps.body, async (ctx) => {
    const input = parseInput(logoutRequest, refreshTokenInput(ctx));
    const reason = input.global ? 'logout_global' : 'logout';
    const token = input.refreshToken;
    // The revocation and its event in one step of the store (Events.atomically).
    const user =
      token === undefined
        ? null
        : await deps.events.atomically(async (step) => {
            const owner = await deps.refreshTokens.logout(token, input.global);
            if (owner !== null) step.emit('jwt.refresh-token.revoke', { userId: owner, fields: { reason }, info: { ipAddress: ctx.ip } });
            return owner;
          });
    if (user !== null) log.info('refresh.revoked', { by: reason, user });
    deps.cookies.clear(ctx);
    answerEmpty(ctx, 200);
  });

  router.get('/jwt/public-key', async (ctx) => {
    const { applicationId, keyId } = ctx.query;
    if (typeof applicationId === 'string') {
      // An HS256 application has no public key: its tokens verify with its secret only.
      const kid = (await deps.applications.find(applicationId)) ? deps.signer.keyIdFor(applicationId) : null;
      const key = kid === null ? undefined : deps.verifier.keys.find((k) => k.kid === kid);
      if (!key) return answerEmpty(ctx, 404);
      ctx.body = { publicKey: key.pem };
      return;
    }
    if (typeof keyId === 'string') {
      const key = deps.verifier.keys.find((k) => k.kid === keyId);
      if (!key) return answerEmpty(ctx, 404);
      ctx.body = { publicKey: key.pem };
      return;
    }
    ctx.body = { publicKeys: Object.fromEntries(deps.verifier.keys.map((k) => [k.kid, k.pem])) };
  });
}
