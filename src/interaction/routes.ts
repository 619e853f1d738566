import Router from '@koa/router';
import type { Context } from 'koa';
import { koaBody } from 'koa-body';
import type Provider from 'oidc-provider';
import { z } from 'zod';
import type { UserRepository } from '../storage/types.js';
import type { PasswordlessCodes, CodeProblem, TypedCodeResult } from '../passwordless/codes.js';
import { mayUseClient, type ClientPolicy, type MagicLinkMailer } from '../passwordless/magic-link.js';
import { recordLogin } from '../accounts/users.js';
import type { Views } from '../render/views.js';
import { localeHintsOf, renderPage, useInteractionLocale } from '../http/page.js';
import type { CsrfTokens } from '../http/csrf.js';
import { log } from '../log.js';
import { clientOf, finishInteraction, interactionById, interactionOfBrowser, type Interaction } from './session.js';
import { consentRoutes } from './consent.js';

export interface InteractionDeps {
  provider: Provider;
  views: Views;
  users: UserRepository;
  codes: PasswordlessCodes;
  mailer: MagicLinkMailer;
  csrf: CsrfTokens;
}

const emailField = z.string().trim().max(254).pipe(z.email());
const typedCodeField = z.string().trim().min(1).max(64);
const linkCodeParam = /^[\w-]{1,256}$/;

/** Form bodies only; node-oidc-provider's own routes never pass through this parser. */
const parseForm = koaBody({ urlencoded: true, json: false, text: false, multipart: false, formLimit: '16kb' });

function formField(ctx: Context, name: string): unknown {
  const body = ctx.request.body as Record<string, unknown> | undefined;
  return body?.[name];
}

function uidOf(ctx: Context): string {
  return (ctx.params as Record<string, string>).uid ?? '';
}

export function interactionRoutes(deps: InteractionDeps): Router {
  const { provider, views, codes, mailer, csrf } = deps;
  const router = new Router({ prefix: '/interaction/:uid' });
  const ttlMinutes = Math.max(1, Math.round(codes.settings.timeToLiveInSeconds / 60));

  const renderGone = (ctx: Context) => renderPage(ctx, views, 400, 'pages/sign-in-gone', {});

  const renderEmailForm = (ctx: Context, interaction: Interaction, client: ClientPolicy, status = 200, email = '', error = '') =>
    renderPage(ctx, views, status, 'pages/email-form', {
      uid: interaction.uid,
      client,
      email: email || (typeof interaction.params.login_hint === 'string' ? interaction.params.login_hint : ''),
      error,
      csrf: csrf.issue('email', interaction.uid),
    });

  /** `error` is a catalogue key, or a key with its variables. */
  const renderCheckInbox = (ctx: Context, uid: string, client: ClientPolicy, email: string, status = 200, error: string | { key: string; vars?: Record<string, number> } = '') =>
    renderPage(ctx, views, status, 'pages/check-inbox', {
      uid,
      client,
      email,
      error,
      ttlMinutes,
      csrf: csrf.issue('code', uid),
      csrfEmail: csrf.issue('email', uid),
    });

  /** The sign-in of this browser and its client, or a rendered "sign-in gone" page. */
  async function requireBrowserInteraction(ctx: Context): Promise<{ interaction: Interaction; client: ClientPolicy } | null> {
    const interaction = await interactionOfBrowser(provider, ctx, uidOf(ctx));
    const client = interaction ? await clientOf(provider, interaction) : null;
    if (!interaction || !client) {
      await renderGone(ctx);
      return null;
    }
    useInteractionLocale(ctx, interaction.params);
    return { interaction, client };
  }

  async function completeLogin(ctx: Context, userId: string, client: ClientPolicy): Promise<boolean> {
    const user = await deps.users.findById(userId);
    if (!user || !mayUseClient(user, client)) return false;
    await recordLogin(deps.users, user.id, client.clientId);
    log.info('login.success', { user: user.id, client: client.clientId, method: 'magic_link' });
    await finishInteraction(provider, ctx, { login: { accountId: user.id, amr: ['email'] } });
    return true;
  }

  async function renderLinkProblem(ctx: Context, uid: string, problem: CodeProblem, linkCode: string | null) {
    const alive = linkCode !== null && problem !== 'unknown' && problem !== 'denied' && (await interactionById(provider, uid)) !== null;
    await renderPage(ctx, views, 410, 'pages/link-problem', {
      uid,
      problem,
      linkCode: alive ? linkCode : null,
      csrf: csrf.issue('resend', uid),
    });
  }

  router.get('/', async (ctx) => {
    const found = await requireBrowserInteraction(ctx);
    if (!found) return;
    const { interaction, client } = found;
    if (interaction.prompt.name === 'login') return renderEmailForm(ctx, interaction, client);
    if (interaction.prompt.name === 'consent') {
      return renderPage(ctx, views, 200, 'pages/consent', {
        uid: interaction.uid,
        client,
        scopes: [...new Set(String(interaction.params.scope ?? '').split(' ').filter(Boolean))],
        csrf: csrf.issue('consent', interaction.uid),
        abortCsrf: csrf.issue('abort', interaction.uid),
      });
    }
    log.warn('interaction.unknown_prompt', { prompt: interaction.prompt.name });
    return renderGone(ctx);
  });

  router.post('/email', parseForm, async (ctx) => {
    const found = await requireBrowserInteraction(ctx);
    if (!found) return;
    const { interaction, client } = found;
    if (!csrf.verify('email', interaction.uid, formField(ctx, 'csrf'))) {
      return renderEmailForm(ctx, interaction, client, 403, '', 'form.expired');
    }
    const email = emailField.safeParse(formField(ctx, 'email'));
    if (!email.success) {
      const typed = typeof formField(ctx, 'email') === 'string' ? String(formField(ctx, 'email')).slice(0, 254) : '';
      return renderEmailForm(ctx, interaction, client, 400, typed, 'form.invalidEmail');
    }
    mailer.requestLink({ email: email.data, interactionUid: interaction.uid, client, locale: localeHintsOf(ctx) });
    return renderCheckInbox(ctx, interaction.uid, client, email.data);
  });

  router.post('/code', parseForm, async (ctx) => {
    const found = await requireBrowserInteraction(ctx);
    if (!found) return;
    const { interaction, client } = found;
    const emailValue = formField(ctx, 'email');
    const email = typeof emailValue === 'string' ? emailValue.slice(0, 254) : '';
    if (!csrf.verify('code', interaction.uid, formField(ctx, 'csrf'))) {
      return renderCheckInbox(ctx, interaction.uid, client, email, 403, 'form.expired');
    }
    const typed = typedCodeField.safeParse(formField(ctx, 'code'));
    if (!typed.success) return renderCheckInbox(ctx, interaction.uid, client, email, 400, 'form.codeMissing');

    const latest = await codes.latestForInteraction(interaction.uid);
    const result: TypedCodeResult = latest.record
      ? await codes.redeemShortCode(latest.record, typed.data)
      : await codes.rejectShortCodeWithoutRecord(interaction.uid);
    if (result.ok && (await completeLogin(ctx, result.record.userId, client))) return;
    if (!result.ok) log.info('code.rejected', { reason: result.problem, method: 'typed' });
    return renderCheckInbox(ctx, interaction.uid, client, email, 400, typedCodeMessage(result));
  });

  router.get('/magic/:code', async (ctx) => {
    const uid = uidOf(ctx);
    const linkCode = (ctx.params as Record<string, string>).code ?? '';
    if (!linkCodeParam.test(linkCode)) return renderLinkProblem(ctx, uid, 'unknown', null);

    // HEAD (link checkers) and cookie-less GETs (scanners, other devices) only look.
    const interaction = ctx.method === 'GET' ? await interactionOfBrowser(provider, ctx, uid) : null;
    if (interaction) {
      useInteractionLocale(ctx, interaction.params);
      const client = await clientOf(provider, interaction);
      if (!client) return renderGone(ctx);
      const result = await codes.redeemLink(linkCode, { interactionUid: uid });
      if (result.usable && (await completeLogin(ctx, result.record.userId, client))) return;
      const problem = result.usable ? 'unknown' : result.problem;
      log.info('code.rejected', { reason: problem, method: 'link' });
      return renderLinkProblem(ctx, uid, problem, linkCode);
    }

    const lookup = await codes.inspect(linkCode);
    if (lookup.record && lookup.record.interactionUid !== uid) return renderLinkProblem(ctx, uid, 'unknown', null);
    if (!lookup.usable) return renderLinkProblem(ctx, uid, lookup.problem, linkCode);
    const alive = await interactionById(provider, uid);
    if (alive) useInteractionLocale(ctx, alive.params);
    const client = alive ? await clientOf(provider, alive) : null;
    return renderPage(ctx, views, 200, 'pages/link-elsewhere', {
      uid,
      client,
      shortCode: codes.shortCodeFor(linkCode, lookup.record),
      expiresAt: new Date(lookup.record.expiresAt),
    });
  });

  router.post('/resend', parseForm, async (ctx) => {
    const uid = uidOf(ctx);
    const linkCode = formField(ctx, 'code');
    if (!csrf.verify('resend', uid, formField(ctx, 'csrf')) || typeof linkCode !== 'string' || !linkCodeParam.test(linkCode)) {
      return renderPage(ctx, views, 400, 'pages/error', { title: 'error.title.formExpired', error: 'invalid_request', description: 'error.message.startAgain' });
    }
    const lookup = await codes.inspect(linkCode);
    const interaction = await interactionById(provider, uid);
    if (interaction) useInteractionLocale(ctx, interaction.params);
    const client = interaction ? await clientOf(provider, interaction) : null;
    if (!lookup.record || lookup.record.interactionUid !== uid || !interaction || !client || lookup.record.status === 'denied') {
      return renderGone(ctx);
    }
    mailer.resendLink({ interactionUid: uid, userId: lookup.record.userId, client, locale: localeHintsOf(ctx) });
    return renderPage(ctx, views, 200, 'pages/link-resent', { client, ttlMinutes });
  });

  router.post('/abort', parseForm, async (ctx) => {
    const found = await requireBrowserInteraction(ctx);
    if (!found) return;
    if (!csrf.verify('abort', found.interaction.uid, formField(ctx, 'csrf'))) return renderGone(ctx);
    await finishInteraction(provider, ctx, { error: 'access_denied', error_description: 'The user cancelled the sign-in.' });
  });

  consentRoutes(router, { provider, views, csrf, requireBrowserInteraction, parseForm, formField });
  return router;
}

/** The catalogue message (key and variables) for a typed code that did not sign in. */
function typedCodeMessage(result: TypedCodeResult): { key: string; vars?: Record<string, number> } {
  if (result.ok) return { key: 'typedCode.unusable' };
  switch (result.problem) {
    case 'wrong':
      return { key: 'typedCode.wrong', vars: { count: result.attemptsLeft } };
    case 'exhausted':
    case 'expired':
    case 'superseded':
      return { key: `typedCode.${result.problem}` };
    default:
      return { key: 'typedCode.unusable' };
  }
}
