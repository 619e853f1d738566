import { hash } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import { linkCodeParam, parseForm } from '../interaction/forms.js';
import type Provider from 'oidc-provider';
import type { Views } from '../render/views.js';
import type { CsrfTokens } from '../http/csrf.js';
import { renderPage, useInteractionLocale } from '../http/page.js';
import type { UserRepository } from '../storage/types.js';
import type { PasswordlessCodes } from '../passwordless/codes.js';
import type { ApplicationDirectory, PasswordlessApi } from '../passwordless/api-login.js';
import { mayUseClient } from '../passwordless/magic-link.js';
import { clientOf, finishInteraction, interactionOfBrowser } from '../interaction/session.js';
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
async function authorizationParams(applications: ApplicationDirectory, clientId: string | null, state: Record<string, unknown> | null): Promise<Record<string, string> | null> {
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
  return params;
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
}

/** Routes of the emailed API link (outside /api: a browser opens them). */
export function emailedLinkRoutes(deps: EmailedLinkDeps): Router {
  const { provider, views, csrf } = deps;
  const router = new Router();

  const renderUnusable = (ctx: Context) =>
    renderPage(ctx, views, 410, 'pages/error', { title: 'apiLink.unusable.title', error: 'link_invalid', description: 'apiLink.unusable.text' });

  const clearCookie = (ctx: Context) => ctx.cookies.set(COOKIE, null, { path: '/interaction', signed: true });

  /** The pending API link of this browser's interaction, if the interaction is the request the link started. */
  async function pendingLink(ctx: Context, uid: string) {
    const cookie = readCookie(ctx);
    if (!cookie) return null;
    const interaction = await interactionOfBrowser(provider, ctx, uid);
    if (!interaction || interaction.prompt.name !== 'login' || bindingOf(interaction.params) !== cookie.binding) return null;
    return { interaction, linkCode: cookie.linkCode };
  }

  router.get('/passwordless/:code', async (ctx) => {
    const linkCode = (ctx.params as Record<string, string>).code ?? '';
    const found = linkCodeParam.test(linkCode) ? await deps.api.usableCode(linkCode) : null;
    // The page speaks the state's ui_locales, as the email did; the link's query carries the
    // same state, which is all there is once the code is spent.
    useInteractionLocale(ctx, found?.record.state ?? ctx.query);
    if (!found) return renderUnusable(ctx);
    const params = await authorizationParams(deps.applications, found.record.clientId, found.record.state);
    if (!params) return renderPage(ctx, views, 400, 'pages/error', { title: 'apiLink.noClient.title', error: 'no_client', description: 'apiLink.noClient.text' });
    ctx.cookies.set(COOKIE, `${linkCode}.${bindingOf(params)}`, {
      path: '/interaction',
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
    const found = await deps.api.usableCode(pending.linkCode);
    const client = await clientOf(provider, pending.interaction);
    if (!found || !client) {
      clearCookie(ctx);
      return renderUnusable(ctx);
    }
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
    if (!pending || !csrf.verify('api-link', uid, token)) return renderUnusable(ctx);
    clearCookie(ctx);
    const client = await clientOf(provider, pending.interaction);
    const redeemed = client ? await deps.codes.redeemLink(pending.linkCode) : null;
    const record = redeemed?.usable ? redeemed.record : null;
    const user = record && record.clientId === client?.clientId && record.interactionUid === null ? await deps.users.findById(record.userId) : null;
    if (!client || !user || !mayUseClient(user, client)) {
      log.info('code.rejected', { reason: record ? 'not_allowed' : 'unusable', method: 'api_link' });
      return renderUnusable(ctx);
    }
    await deps.users.recordLogin(user.id, client.clientId, Date.now());
    log.info('login.success', { user: user.id, client: client.clientId, method: 'api_link' });
    await finishInteraction(provider, ctx, { login: { accountId: user.id, amr: ['email'] } });
  });

  return router;
}
