import Router from '@koa/router';
import type { Context } from 'koa';
import * as oidc from 'openid-client';
import type { Views } from '../render/views.js';
import { ERROR_VIEW, renderPage } from '../http/page.js';
import { DEMO_CLIENT_ID } from '../provider/clients.js';

const TX_COOKIE = 'demo_tx';
const SESSION_COOKIE = 'demo_session';

interface DemoSession {
  claims: Record<string, unknown>;
  idToken: string;
}

function readJsonCookie<T>(ctx: Context, name: string): T | null {
  const raw = ctx.cookies.get(name, { signed: true });
  if (!raw) return null;
  try {
    return JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as T;
  } catch {
    return null;
  }
}

function writeJsonCookie(ctx: Context, name: string, value: unknown, path: string): void {
  ctx.cookies.set(name, Buffer.from(JSON.stringify(value)).toString('base64url'), {
    signed: true,
    httpOnly: true,
    sameSite: 'lax',
    path,
    overwrite: true,
  });
}

/**
 * A tiny relying party living beside the provider (development only): it signs in with an
 * ordinary OIDC client library and shows the ID token's claims.
 */
export function demoRoutes(options: { issuer: string; /** The issuer's path ('' at the root): cookie paths and redirects start with it. */ base: string; secret: string; views: Views }): Router {
  const { issuer, secret, views } = options;
  const router = new Router({ prefix: '/demo' });
  const redirectUri = `${issuer}/demo/callback`;
  let discovered: Promise<oidc.Configuration> | null = null;
  const configuration = () => {
    discovered ??= oidc
      .discovery(new URL(issuer), DEMO_CLIENT_ID, secret, undefined, issuer.startsWith('http:') ? { execute: [oidc.allowInsecureRequests] } : {})
      .catch((err: unknown) => {
        discovered = null;
        throw err;
      });
    return discovered;
  };

  router.get('/', async (ctx) => {
    const session = readJsonCookie<DemoSession>(ctx, SESSION_COOKIE);
    const logoutUrl = session
      ? `${issuer}/session/end?${new URLSearchParams({ id_token_hint: session.idToken, post_logout_redirect_uri: `${issuer}/demo/logged-out`, client_id: DEMO_CLIENT_ID })}`
      : null;
    await renderPage(ctx, views, 200, 'pages/demo', { claims: session?.claims ?? null, logoutUrl });
  });

  router.get('/login', async (ctx) => {
    const config = await configuration();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    writeJsonCookie(ctx, TX_COOKIE, { verifier, state, nonce }, `${options.base}/demo`);
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid email profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      prompt: 'login',
    });
    ctx.redirect(url.href);
  });

  router.get('/callback', async (ctx) => {
    const tx = readJsonCookie<{ verifier: string; state: string; nonce: string }>(ctx, TX_COOKIE);
    if (!tx) {
      ctx.redirect(`${options.base}/demo`);
      return;
    }
    const config = await configuration();
    try {
      const tokens = await oidc.authorizationCodeGrant(config, new URL(ctx.originalUrl, issuer), {
        pkceCodeVerifier: tx.verifier,
        expectedState: tx.state,
        expectedNonce: tx.nonce,
      });
      writeJsonCookie(ctx, SESSION_COOKIE, { claims: tokens.claims() ?? {}, idToken: tokens.id_token ?? '' }, `${options.base}/demo`);
      ctx.cookies.set(TX_COOKIE, null, { path: `${options.base}/demo` });
      ctx.redirect(`${options.base}/demo`);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      await renderPage(ctx, views, 400, ERROR_VIEW, { title: 'error.title.demo', error: 'demo_failed', description: message });
    }
  });

  router.get('/logged-out', (ctx) => {
    ctx.cookies.set(SESSION_COOKIE, null, { path: `${options.base}/demo` });
    ctx.redirect(`${options.base}/demo`);
  });

  return router;
}
