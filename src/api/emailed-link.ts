import { hash } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import { linkCodeParam, parseForm } from '../interaction/forms.js';
import { interactionPolicy, type default as Provider, type KoaContextWithOIDC } from 'oidc-provider';
import type { Views } from '../render/views.js';
import type { CsrfTokens } from '../http/csrf.js';
import { ERROR_VIEW, baseOf, renderPage, useInteractionLocale } from '../http/page.js';
import type { UserRecord, UserRepository } from '../storage/types.js';
import type { CodeProblem, PasswordlessCodes } from '../passwordless/codes.js';
import type { ApplicationDirectory, ApplicationInfo, PasswordlessApi } from '../passwordless/api-login.js';
import { mayUseClient, type ClientPolicy } from '../passwordless/magic-link.js';
import { clientOf, interactionOfBrowser, signInWithEmail } from '../interaction/session.js';
import { log } from '../log.js';
import { withStateParameters } from '../mail/links.js';

/**
 * The link that `/api/passwordless/send` emails, and how opening it becomes an Authorization
 * Code grant for the client named in the code's `state`:
 *
 * 1. `GET /passwordless/<code>?…state…` changes nothing. When the stored state names a client
 *    and one of its registered redirect URIs, it sets a short-lived signed cookie that binds
 *    the code to the exact authorization request it is about to make, and redirects to
 *    `/auth` with `prompt=login` (so an existing session of someone else is never reused).
 * 2. The login prompt's page (`GET /interaction/<uid>`) finds the cookie, checks that the
 *    interaction is that very request, and shows a "Continue" button instead of the email form.
 * 3. Only the button's POST (CSRF-bound to the interaction) redeems the code and finishes the
 *    login; node-oidc-provider then redirects to the redirect URI with a code and the state.
 *
 * Each step first checks that the user may use the client (not locked or expired, registered
 * where the client requires it): a refused user gets a page that says so, and the code stays
 * unspent, as `/api/passwordless/login` keeps it for a locked user.
 *
 * A link scanner that follows every GET creates at most an unused interaction: no code is spent.
 */

const COOKIE = 'oml.apilink';
/** Authorization parameters that the caller's state may carry over to /auth. */
const PASSED_PARAMS = ['scope', 'state', 'nonce', 'code_challenge', 'code_challenge_method', 'ui_locales'] as const;

/** The emailed link: our route for the code, with the start `state` as query parameters. */
export function emailedLink(issuer: string, linkCode: string, state: Record<string, unknown> | null): string {
  return withStateParameters(`${issuer}/passwordless/${encodeURIComponent(linkCode)}`, state);
}

/** The authorization request a code's state asks for, when it names a client and a registered redirect URI. */
async function authorizationRequest(
  applications: ApplicationDirectory,
  clientId: string | null,
  state: Record<string, unknown> | null,
): Promise<{ application: ApplicationInfo; params: Record<string, string> } | null> {
  const client_id = state?.client_id;
  const redirect_uri = state?.redirect_uri;
  if (typeof client_id !== 'string' || typeof redirect_uri !== 'string' || client_id !== clientId) return null;
  const application = await applications.find(client_id);
  if (!application || !application.redirectUris.includes(redirect_uri)) return null;
  const params: Record<string, string> = { client_id, redirect_uri, response_type: 'code', scope: 'openid', prompt: 'login' };
  for (const name of PASSED_PARAMS) {
    const value = state?.[name];
    if (typeof value === 'string' && value.length > 0) params[name] = value;
  }
  return { application, params };
}

/** A digest of the parameters that make an authorization request this one and no other. */
function bindingOf(params: Record<string, unknown>): string {
  const fields = ['client_id', 'redirect_uri', 'state', 'nonce', 'code_challenge'].map((name) => (typeof params[name] === 'string' ? params[name] : null));
  return hash('sha256', JSON.stringify(fields), 'base64url');
}

function readCookie(ctx: Context): { linkCode: string; binding: string } | null {
  const value = ctx.cookies.get(COOKIE, { signed: true });
  const [linkCode, binding] = value?.split('.') ?? [];
  return linkCode && binding && linkCodeParam.test(linkCode) ? { linkCode, binding } : null;
}

export interface EmailedLinkDeps {
  issuer: string;
  provider: Provider;
  views: Views;
  csrf: CsrfTokens;
  users: UserRepository;
  codes: PasswordlessCodes;
  api: PasswordlessApi;
  applications: ApplicationDirectory;
  /** Also answer FusionAuth's link address, /oauth2/passwordless/<code>. */
  oauth2Paths: boolean;
}

/** The amr value of a sign-in by an emailed API link: its session serves that one authorization request only. */
export const AMR_API_LINK = 'api_link';

/**
 * For the login prompt: a browser session that an emailed API link signed in ends with the
 * authorization request the link was for. The link may have been opened anywhere (the app chose
 * where it goes, and any browser that opens it signs in), so the session it leaves must not sign
 * that browser in to other clients with prompt=none, nor to this one again: every later request
 * asks for a sign-in of its own.
 */
export function apiLinkSessionCheck(): InstanceType<typeof interactionPolicy.Check> {
  return new interactionPolicy.Check('api_link_session', 'an emailed API link signs in one authorization request only', 'login_required', (ctx: KoaContextWithOIDC) =>
    Boolean(ctx.oidc.session?.accountId) && (ctx.oidc.session?.amr ?? []).includes(AMR_API_LINK) && !ctx.oidc.result?.login,
  );
}

/** Routes of the emailed API link (outside /api: a browser opens them). */
export function emailedLinkRoutes(deps: EmailedLinkDeps): Router {
  const { provider, views, csrf } = deps;
  const router = new Router();

  // The hosted flow's page, which says which problem it is; no "email me a new link": only the app can start one.
  const renderUnusable = (ctx: Context, problem: CodeProblem) => renderPage(ctx, views, 410, 'pages/link-problem', { uid: '', problem, linkCode: null, csrf: '' });

  /** Whether the user may sign in to the client; a refusal is logged (ids only) and its page rendered. */
  async function refused(ctx: Context, user: UserRecord, client: ClientPolicy): Promise<boolean> {
    if (mayUseClient(user, client)) return false;
    log.info('login.failure', { user: user.id, client: client.clientId, reason: 'not_allowed', method: 'api_link' });
    await renderPage(ctx, views, 403, ERROR_VIEW, { title: 'apiLink.refused.title', error: 'access_denied', description: 'apiLink.refused.text' });
    return true;
  }

  const clearCookie = (ctx: Context) => ctx.cookies.set(COOKIE, null, { path: `${baseOf(ctx)}/interaction`, signed: true });

  /** The pending API link of this browser's interaction, if the interaction is the request the link started. */
  async function pendingLink(ctx: Context, uid: string) {
    const cookie = readCookie(ctx);
    if (!cookie) return null;
    const interaction = await interactionOfBrowser(provider, ctx, uid);
    if (!interaction || interaction.prompt.name !== 'login' || bindingOf(interaction.params) !== cookie.binding) return null;
    return { interaction, linkCode: cookie.linkCode };
  }

  // FusionAuth's templates build `/oauth2/passwordless/<code>`: the same link, when api.oauth2Paths is on.
  router.get(deps.oauth2Paths ? ['/passwordless/:code', '/oauth2/passwordless/:code'] : '/passwordless/:code', async (ctx) => {
    const linkCode = (ctx.params as Record<string, string>).code ?? '';
    const found = linkCodeParam.test(linkCode) ? await deps.api.lookupCode(linkCode) : ({ usable: false, problem: 'unknown' } as const);
    // The page speaks the state's ui_locales, as the email did; the link's query carries the
    // same state, which is all there is once the code is spent.
    useInteractionLocale(ctx, (found.usable ? found.record.state : null) ?? ctx.query);
    if (!found.usable) return renderUnusable(ctx, found.problem);
    const request = await authorizationRequest(deps.applications, found.record.clientId, found.record.state);
    if (!request) return renderPage(ctx, views, 400, ERROR_VIEW, { title: 'apiLink.noClient.title', error: 'no_client', description: 'apiLink.noClient.text' });
    if (await refused(ctx, found.user, request.application)) return;
    const { params } = request;
    ctx.cookies.set(COOKIE, `${linkCode}.${bindingOf(params)}`, {
      path: `${baseOf(ctx)}/interaction`,
      httpOnly: true,
      sameSite: 'lax',
      // As node-oidc-provider's own cookies: Secure whenever the request came over TLS (or a trusted proxy says so).
      secure: ctx.secure,
      signed: true,
      maxAge: Math.max(1000, found.record.expiresAt - Date.now()),
    });
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 303;
    ctx.redirect(`${deps.issuer}/auth?${new URLSearchParams(params).toString()}`);
  });

  router.get('/interaction/:uid', async (ctx, next) => {
    const pending = await pendingLink(ctx, (ctx.params as Record<string, string>).uid ?? '');
    if (!pending) return next();
    // The authorization request carries the state's ui_locales (see PASSED_PARAMS).
    useInteractionLocale(ctx, pending.interaction.params);
    const found = await deps.api.lookupCode(pending.linkCode);
    const client = await clientOf(provider, pending.interaction);
    if (!found.usable || !client) {
      clearCookie(ctx);
      return renderUnusable(ctx, found.usable ? 'unknown' : found.problem);
    }
    if (await refused(ctx, found.user, client)) return clearCookie(ctx);
    return renderPage(ctx, views, 200, 'pages/api-link-continue', {
      uid: pending.interaction.uid,
      client,
      email: found.user.email,
      csrf: csrf.issue('api-link', pending.interaction.uid),
    });
  });

  router.post('/interaction/:uid/api-link', parseForm, async (ctx) => {
    const uid = (ctx.params as Record<string, string>).uid ?? '';
    const pending = await pendingLink(ctx, uid);
    if (pending) useInteractionLocale(ctx, pending.interaction.params);
    const token = (ctx.request.body as Record<string, unknown> | undefined)?.csrf;
    if (!pending || !csrf.verify('api-link', uid, token)) return renderUnusable(ctx, 'unknown');
    clearCookie(ctx);
    const client = await clientOf(provider, pending.interaction);
    const found = client ? await deps.api.lookupCode(pending.linkCode) : null;
    // The binding makes the interaction's client the state's; a code of another client is not for this request.
    if (!client || !found?.usable || found.record.clientId !== client.clientId) {
      log.info('code.rejected', { reason: 'unusable', method: 'api_link' });
      return renderUnusable(ctx, found && !found.usable ? found.problem : 'unknown');
    }
    // Checked before the code is spent, so it still works once the account is fixed.
    if (await refused(ctx, found.user, client)) return;
    const redeemed = await deps.codes.redeemLink(pending.linkCode);
    if (!redeemed.usable) {
      log.info('code.rejected', { reason: 'unusable', method: 'api_link' });
      return renderUnusable(ctx, redeemed.problem);
    }
    await signInWithEmail(provider, ctx, { accountId: found.user.id, clientId: client.clientId, method: 'api_link', amr: ['email', AMR_API_LINK] }, () =>
      deps.users.recordLogin(found.user.id, client.clientId, Date.now()),
    );
  });

  return router;
}
