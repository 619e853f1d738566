import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { z } from 'zod';
import { normalizeEmail, type PasswordlessCodeRecord } from '../storage/types.js';
import type { AccountDirectory, SignInMethod } from '../passwordless/accounts.js';
import { hostedCodeOwner, type PasswordlessCodes, type CodeProblem, type TypedCodeResult } from '../passwordless/codes.js';
import type { ClientPolicy, MagicLinkMailer } from '../passwordless/magic-link.js';
import type { Views } from '../render/views.js';
import { ERROR_VIEW, baseOf, localeHintsOf, renderPage, useInteractionLocale } from '../http/page.js';
import { statedLifetime } from '../i18n/helpers.js';
import type { CsrfTokens } from '../http/csrf.js';
import { addressBudget, hostedAccountBudget, minutesToWait, type RateDecision, type RateLimiter } from '../passwordless/rate-limits.js';
import { log } from '../log.js';
import { responseDone } from '../mail/outbox.js';
import { clientOf, finishInteraction, interactionById, interactionOfBrowser, signInWithEmail, type Interaction } from './session.js';
import { consentRoutes } from './consent.js';
import { crossDeviceRoutes } from './cross-device.js';
import { describeBrowser, describeNetwork } from './request-context.js';
import { crossDeviceExtra, extraForFreshLink, newPairNumber, pairNumberOfLiveCode, pairNumberOfRepeat, type CrossDeviceApprovals } from '../passwordless/approval.js';
import { hashCode } from '../passwordless/hash.js';
import { checkInboxBinding, codeFormBinding, formField, linkCodeParam, pairNumberOf, parseForm, uidOf } from './forms.js';
import { signUpEmailOf } from '../passwordless/sign-up.js';
import { signUpRoutes } from './sign-up.js';

export interface InteractionDeps {
  provider: Provider;
  views: Views;
  accounts: AccountDirectory;
  codes: PasswordlessCodes;
  mailer: MagicLinkMailer;
  csrf: CsrfTokens;
  approvals: CrossDeviceApprovals;
  limiter: RateLimiter;
}

/** What the "check your inbox" page shows besides the form fields. */
export interface CheckInboxView {
  uid: string;
  client: ClientPolicy;
  email: string;
  /** The number another device must type to approve; '' when unknown (e.g. a tampered form). */
  pairNumber: string;
  status?: number;
  /** Catalogue keys (with their variables) of the message to show. */
  error?: CatalogueMessage;
  notice?: CatalogueMessage;
}

export type CatalogueMessage = string | { key: string; vars?: Record<string, number | string> };

const emailField = z.string().trim().max(254).pipe(z.email());
const typedCodeField = z.string().trim().min(1).max(64);

export function interactionRoutes(deps: InteractionDeps): Router {
  const { provider, views, codes, mailer, csrf } = deps;
  const router = new Router({ prefix: '/interaction/:uid' });
  const lifetime = statedLifetime(codes.settings.timeToLiveInSeconds);
  const ttlMinutes = lifetime.minutes;

  const renderGone = (ctx: Context) => renderPage(ctx, views, 400, 'pages/sign-in-gone', {});
  const signUp = signUpRoutes(router, {
    views,
    csrf,
    codes,
    accounts: deps.accounts,
    parseForm,
    requireBrowserInteraction: (ctx) => requireBrowserInteraction(ctx),
    renderGone,
    signIn: (ctx, userId, client, method) => signIn(ctx, userId, client, method),
    renderNotAllowed: (ctx, uid) => renderLinkProblem(ctx, uid, 'unknown', null, true),
  });

  const renderEmailForm = (ctx: Context, interaction: Interaction, client: ClientPolicy, status = 200, email = '', error = '') =>
    renderPage(ctx, views, status, 'pages/email-form', {
      uid: interaction.uid,
      client,
      signUp: signUp.settingsFor(client) !== null,
      email: email || (typeof interaction.params.login_hint === 'string' ? interaction.params.login_hint : ''),
      error,
      csrf: csrf.issue('email', interaction.uid),
    });

  const renderConsent = (ctx: Context, interaction: Interaction, client: ClientPolicy, status = 200, error = '') =>
    renderPage(ctx, views, status, 'pages/consent', {
      uid: interaction.uid,
      client,
      scopes: [...new Set(String(interaction.params.scope ?? '').split(' ').filter(Boolean))],
      error,
      csrf: csrf.issue('consent', interaction.uid),
      abortCsrf: csrf.issue('abort', interaction.uid),
    });

  /**
   * The page of the step the sign-in is at (the email form or the consent), with fresh form tokens;
   * with a status and message when a form of it was refused (e.g. an expired token), which changed nothing.
   */
  async function renderCurrentStep(ctx: Context, interaction: Interaction, client: ClientPolicy, status = 200, error = '') {
    if (interaction.prompt.name === 'login') return renderEmailForm(ctx, interaction, client, status, '', error);
    if (interaction.prompt.name === 'consent') return renderConsent(ctx, interaction, client, status, error);
    log.warn('interaction.unknown_prompt', { prompt: interaction.prompt.name });
    return renderGone(ctx);
  }

  const renderCheckInbox = (ctx: Context, view: CheckInboxView) =>
    renderPage(ctx, views, view.status ?? 200, 'pages/check-inbox', {
      uid: view.uid,
      client: view.client,
      email: view.email,
      pairNumber: view.pairNumber,
      error: view.error ?? '',
      notice: view.notice ?? '',
      ttlMinutes,
      ttlSeconds: codes.settings.timeToLiveInSeconds,
      lifetime,
      // A digits-only code gets the phone's number pad.
      codeInputMode: codes.settings.shortCode.generator === 'randomDigits' ? 'numeric' : 'text',
      csrf: csrf.issue('code', codeFormBinding(view.uid, view.pairNumber, view.email)),
      csrfContinue: csrf.issue('continue', checkInboxBinding(view.uid, view.pairNumber)),
      csrfEmail: csrf.issue('email', view.uid),
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

  /**
   * The "please wait" page. It depends only on the limit that bit, never on whether the
   * address has an account, so it is the same for known and unknown addresses. `startUid`, when
   * this browser's sign-in is alive, gives it a link back to the sign-in's start.
   */
  const renderRateLimited = (ctx: Context, decision: Extract<RateDecision, { allowed: false }>, startUid: string | null) => {
    ctx.set('Retry-After', String(decision.retryAfterSeconds));
    return renderPage(ctx, views, 429, 'pages/rate-limited', { minutes: minutesToWait(decision.retryAfterSeconds), startUid });
  };

  /**
   * The step a redeemed code leads to: for a sign-up code, the form that creates the account; else
   * the sign-in. False when the account may not sign in to this client (nothing was done).
   */
  async function completeLogin(ctx: Context, record: PasswordlessCodeRecord, client: ClientPolicy, method: SignInMethod = 'magic_link'): Promise<boolean> {
    if (signUpEmailOf(record) !== null) return signUp.showFormFor(ctx, record, client);
    return signIn(ctx, record.userId, client, method);
  }

  async function signIn(ctx: Context, userId: string, client: ClientPolicy, method: SignInMethod): Promise<boolean> {
    const account = await deps.accounts.signInAccount(userId, client);
    if (!account) {
      log.info('login.failure', { user: userId, client: client.clientId, method, reason: 'not_allowed' });
      return false;
    }
    await signInWithEmail(provider, ctx, { accountId: account.id, clientId: client.clientId, method }, () => deps.accounts.recordSignIn(account.id, client, method));
    return true;
  }

  /**
   * The page of a link that cannot sign in. It offers a fresh link only while the sign-in is
   * alive; `interactionAlive` says so when the caller already looked (one store read less).
   */
  async function renderLinkProblem(ctx: Context, uid: string, problem: CodeProblem, linkCode: string | null, interactionAlive?: boolean) {
    const offerFreshLink =
      linkCode !== null && problem !== 'unknown' && problem !== 'denied' && (interactionAlive ?? (await interactionById(provider, uid)) !== null);
    await renderPage(ctx, views, 410, 'pages/link-problem', {
      uid,
      problem,
      linkCode: offerFreshLink ? linkCode : null,
      csrf: csrf.issue('resend', uid),
    });
  }

  router.get('/', async (ctx) => {
    const found = await requireBrowserInteraction(ctx);
    if (!found) return;
    // A reload of the sign-in's page (or Back to it) while its sign-up form waits shows that form again.
    if (await signUp.showPendingForm(ctx, found.interaction, found.client)) return;
    return renderCurrentStep(ctx, found.interaction, found.client);
  });

  // A host with its own login page sends the browser here for "Email me a sign-in link".
  router.get('/by-email', async (ctx) => {
    const found = await requireBrowserInteraction(ctx);
    if (!found) return;
    if (found.interaction.prompt.name !== 'login') return renderCurrentStep(ctx, found.interaction, found.client);
    return renderEmailForm(ctx, found.interaction, found.client);
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
    // The same rendered form sent again (a reload, Back then Forward) while its code is live: the
    // same page again, no email, no code, no count. Read before the limiter and from the sign-in's
    // newest code alone, which every address has, so it tells no address from another.
    const submission = submissionDigest(formField(ctx, 'csrf'), email.data);
    const latest = await codes.latestForInteraction(interaction.uid);
    const repeatedPair = pairNumberOfRepeat(latest, submission);
    if (repeatedPair !== null) return renderCheckInbox(ctx, { uid: interaction.uid, client, email: email.data, pairNumber: repeatedPair });
    // Counted before anything looks the address up, so a limited answer reveals nothing.
    const limit = await deps.limiter.allowSend(email.data, ctx.ip);
    if (!limit.allowed) {
      // From "Check your inbox" while the code already sent works: that page again, so the user can still type it.
      const livePair = formField(ctx, 'from') === 'check-inbox' ? pairNumberOfLiveCode(latest) : null;
      if (livePair === null) return renderRateLimited(ctx, limit, interaction.uid);
      ctx.set('Retry-After', String(limit.retryAfterSeconds));
      const wait = { key: 'rateLimit.newLink', vars: { count: minutesToWait(limit.retryAfterSeconds) } };
      return renderCheckInbox(ctx, { uid: interaction.uid, client, email: email.data, pairNumber: livePair, status: 429, error: wait });
    }
    log.info('code.requested', { client: client.clientId, method: 'hosted' });
    // The number and the context are made here, in the browser that asks, whether or not the
    // address is known: the page must look the same either way.
    const pairNumber = newPairNumber();
    const requestedFrom = { appName: client.name, browser: describeBrowser(ctx.get('user-agent')), network: describeNetwork(ctx.ip) };
    mailer.requestLink({ email: email.data, interactionUid: interaction.uid, client, base: baseOf(ctx), locale: localeHintsOf(ctx), extra: crossDeviceExtra(pairNumber, requestedFrom, submission) }, responseDone(ctx.res));
    return renderCheckInbox(ctx, { uid: interaction.uid, client, email: email.data, pairNumber });
  });

  router.post('/code', parseForm, async (ctx) => {
    const found = await requireBrowserInteraction(ctx);
    if (!found) return;
    const { interaction, client } = found;
    const emailValue = formField(ctx, 'email');
    const email = typeof emailValue === 'string' ? emailValue.slice(0, 254) : '';
    const pairNumber = pairNumberOf(ctx);
    const page = { uid: interaction.uid, client, email, pairNumber };
    // The token also binds the address, so the per-address budget below cannot be dodged by editing it.
    if (!csrf.verify('code', codeFormBinding(interaction.uid, pairNumber, email), formField(ctx, 'csrf'))) {
      // Back to the address form: a fresh code form here would be bound to whatever address the
      // refused POST carried, which would let anyone pick the address its budgets count under.
      return renderEmailForm(ctx, interaction, client, 403, '', 'form.expired');
    }
    const typed = typedCodeField.safeParse(formField(ctx, 'code'));
    if (!typed.success) return renderCheckInbox(ctx, { ...page, status: 400, error: 'form.codeMissing' });

    const latest = await codes.latestForInteraction(interaction.uid);
    // Budgets across codes: the address always (known or not, so answers stay alike), the account when there is one.
    // Keyed by the sign-in's own code (its address and account), never by the posted address,
    // which a refused form could change; before its first code exists, by the address this
    // browser typed, which only a form of ours binds to the sign-in.
    const budgets = latest.record ? [addressBudget(latest.record.owner), hostedAccountBudget(latest.record.userId)] : [addressBudget(hostedCodeOwner(normalizeEmail(email)))];
    // The try is taken from the budgets before the code is compared (so a burst cannot outrun them) and given back unless it was wrong.
    const tried = await deps.limiter.withCodeTry(
      budgets,
      () => (latest.record ? codes.redeemShortCode(latest.record, typed.data) : codes.rejectShortCodeWithoutRecord(interaction.uid)),
      Date.now(),
      ctx.ip,
    );
    if (!tried.allowed) {
      ctx.set('Retry-After', String(tried.retryAfterSeconds));
      return renderCheckInbox(ctx, { ...page, status: 429, error: { key: 'rateLimit.codes', vars: { count: minutesToWait(tried.retryAfterSeconds) } } });
    }
    const { result } = tried;
    if (result.ok) {
      log.info('code.redeemed', { user: result.record.userId, client: client.clientId, method: 'typed' });
      if (await completeLogin(ctx, result.record, client, 'typed_code')) return;
    } else {
      log.info('code.rejected', { reason: result.problem, method: 'typed' });
    }
    return renderCheckInbox(ctx, { ...page, status: 400, error: typedCodeMessage(result) });
  });

  const crossDevice = crossDeviceRoutes(router, {
    provider,
    views,
    codes,
    approvals: deps.approvals,
    csrf,
    parseForm,
    requireBrowserInteraction,
    completeLogin,
    renderCheckInbox,
    renderLinkProblem,
  });

  router.get('/magic/:code', async (ctx) => {
    const uid = uidOf(ctx);
    const linkCode = (ctx.params as Record<string, string>).code ?? '';
    if (!linkCodeParam.test(linkCode)) return renderLinkProblem(ctx, uid, 'unknown', null);

    // HEAD (link checkers) and cookie-less GETs (scanners, other devices) only look.
    const interaction = ctx.method === 'GET' ? await interactionOfBrowser(provider, ctx, uid) : null;
    log.debug('link.opened', { channel: 'hosted', openedIn: interaction ? 'same_browser' : ctx.method === 'GET' && ctx.get('Cookie') ? 'other_browser' : 'scanner_like' });
    if (interaction) {
      useInteractionLocale(ctx, interaction.params);
      const client = await clientOf(provider, interaction);
      if (!client) return renderGone(ctx);
      const result = await codes.redeemLink(linkCode, { interactionUid: uid });
      if (result.usable) log.info('code.redeemed', { user: result.record.userId, client: client.clientId, method: 'link' });
      if (result.usable && (await completeLogin(ctx, result.record, client))) return;
      const problem = result.usable ? 'unknown' : result.problem;
      log.info('code.rejected', { reason: problem, method: 'link' });
      return renderLinkProblem(ctx, uid, problem, linkCode, true);
    }

    // This device has no cookie of the sign-in; every page here, problems included, speaks the sign-in's language.
    const alive = await interactionById(provider, uid);
    if (alive) useInteractionLocale(ctx, alive.params);
    const lookup = await codes.inspect(linkCode);
    if (lookup.record && lookup.record.interactionUid !== uid) return renderLinkProblem(ctx, uid, 'unknown', null);
    if (!lookup.usable) return renderLinkProblem(ctx, uid, lookup.problem, linkCode, alive !== null);
    return crossDevice.renderLinkElsewhere(ctx, linkCode, lookup.record);
  });

  router.post('/resend', parseForm, async (ctx) => {
    const uid = uidOf(ctx);
    const linkCode = formField(ctx, 'code');
    if (!csrf.verify('resend', uid, formField(ctx, 'csrf')) || typeof linkCode !== 'string' || !linkCodeParam.test(linkCode)) {
      return renderPage(ctx, views, 400, ERROR_VIEW, { title: 'error.title.formExpired', error: 'invalid_request', description: 'error.message.startAgain' });
    }
    const lookup = await codes.inspect(linkCode);
    const interaction = await interactionById(provider, uid);
    if (interaction) useInteractionLocale(ctx, interaction.params);
    const client = interaction ? await clientOf(provider, interaction) : null;
    if (!lookup.record || lookup.record.interactionUid !== uid || !interaction || !client || lookup.record.status === 'denied') {
      return renderGone(ctx);
    }
    const signUpEmail = signUpEmailOf(lookup.record);
    const account = signUpEmail ? null : await deps.accounts.signInAccount(lookup.record.userId, client);
    const limit = await deps.limiter.allowSend(signUpEmail ?? account?.email ?? lookup.record.userId, ctx.ip);
    if (!limit.allowed) return renderRateLimited(ctx, limit, (await interactionOfBrowser(provider, ctx, uid)) ? uid : null);
    log.info('code.requested', { client: client.clientId, method: 'resend' });
    const extra = extraForFreshLink(lookup.record);
    mailer.resendLink({ interactionUid: uid, userId: lookup.record.userId, signUpEmail, client, base: baseOf(ctx), locale: localeHintsOf(ctx), ...(extra ? { extra } : {}) });
    return renderPage(ctx, views, 200, 'pages/link-resent', { client, ttlMinutes, lifetime });
  });

  router.post('/abort', parseForm, async (ctx) => {
    const found = await requireBrowserInteraction(ctx);
    if (!found) return;
    // The sign-in goes on: say the form expired on the page it is at, as every other form does.
    if (!csrf.verify('abort', found.interaction.uid, formField(ctx, 'csrf'))) return renderCurrentStep(ctx, found.interaction, found.client, 403, 'form.expired');
    await finishInteraction(provider, ctx, { error: 'access_denied', error_description: 'The user cancelled the sign-in.' });
  });

  consentRoutes(router, { provider, csrf, requireBrowserInteraction, renderCurrentStep, parseForm, formField });
  return router;
}

/** Names one submission of one rendered email form: its token is unique per render (see CsrfTokens). */
function submissionDigest(token: unknown, email: string): string {
  return hashCode(`${String(token)}\n${normalizeEmail(email)}`);
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
