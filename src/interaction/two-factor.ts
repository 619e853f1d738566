import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { Views } from '../render/views.js';
import type { CsrfTokens } from '../http/csrf.js';
import { baseOf, renderPage, useInteractionLocale } from '../http/page.js';
import { durationKey, statedDuration } from '../i18n/helpers.js';
import { log } from '../log.js';
import { ACR_MULTI_FACTOR, AMR_SECOND_FACTOR, REASON_UNAVAILABLE, TRUST_COOKIE, TWO_FACTOR_PROMPT, type SecondFactorCheck, type SecondFactorTries } from '../provider/two-factor-prompt.js';
import { clientOf, finishInteraction, interactionOfBrowser, loginSessionId, sessionEndsAt, type Interaction } from './session.js';
import { formText, parseForm } from './forms.js';

export interface TwoFactorPageDeps {
  provider: Provider;
  views: Views;
  csrf: CsrfTokens;
  service: SecondFactorCheck;
  /**
   * The counted tries of each login's step, and how many make it void: the same instance the
   * provider's login check reads (see voidedLoginCheck), so the two cannot disagree. Counted per
   * login (the browser session), not per interaction: see SecondFactorTries.
   */
  tries: SecondFactorTries;
  /** How long an interaction lives: the count's lifetime when its session is already gone. */
  interactionTtlSeconds: number;
}

/** A sign-in at the second-factor step, with the id of the browser session holding its login. */
type PendingStep = Interaction & { sessionId: string };

/**
 * The hosted second-factor step (the `two_factor` prompt): asks for a TOTP or recovery code,
 * offers "trust this device", and explains when a client demands a factor the user lacks.
 * GET /interaction/:uid is answered here only while that prompt is pending; otherwise it
 * passes on to the sign-in routes.
 */
export function twoFactorRoutes(deps: TwoFactorPageDeps): Router {
  const { provider, views, csrf, service, tries } = deps;
  const { maxAttempts } = tries;
  const router = new Router({ prefix: '/interaction/:uid' });
  // The trust box states its real length (an hour is "1 hour", never "1 day").
  const trustFor = statedDuration(service.trustTimeToLiveInSeconds);
  // 'twoFactor.trust' kept its name from when it said days only; other units have their suffix.
  const trustLabel = { key: durationKey('twoFactor.trust', trustFor, 'days'), count: trustFor.count };
  // Whole days for theme templates written before trustLabel: rounded down, at least 1.
  const trustDays = Math.max(1, Math.floor(service.trustTimeToLiveInSeconds / 86400));

  /** This browser's sign-in, when it is at the second-factor step. */
  async function pendingStep(ctx: Context): Promise<PendingStep | null> {
    const uid = (ctx.params as Record<string, string>).uid ?? '';
    const interaction = await interactionOfBrowser(provider, ctx, uid);
    const sessionId = interaction ? loginSessionId(interaction) : null;
    if (!interaction || interaction.prompt.name !== TWO_FACTOR_PROMPT || !sessionId) return null;
    useInteractionLocale(ctx, interaction.params);
    return Object.assign(interaction, { sessionId });
  }

  /** The counts of a login last as long as its session, so a void step stays void. */
  async function countsEndAt(sessionId: string): Promise<number> {
    return (await sessionEndsAt(provider, sessionId)) ?? Date.now() + deps.interactionTtlSeconds * 1000;
  }

  const renderGone = (ctx: Context) => renderPage(ctx, views, 400, 'pages/sign-in-gone', {});

  /** `voided`: what the caller already knows of the login's step; read from the store when not given. */
  async function renderStep(ctx: Context, interaction: PendingStep, status = 200, error: string | { key: string; vars?: Record<string, number> } = '', voided?: boolean) {
    const client = await clientOf(provider, interaction);
    if (!client) return renderGone(ctx);
    const uid = interaction.uid;
    if (interaction.prompt.reasons.includes(REASON_UNAVAILABLE)) {
      return renderPage(ctx, views, 403, 'pages/two-factor-stop', { client, heading: 'twoFactor.unavailableHeading', text: 'twoFactor.unavailable', uid, csrf: csrf.issue('two-factor-decline', uid) });
    }
    if (voided ?? (await tries.voided(interaction.sessionId))) {
      return renderPage(ctx, views, 429, 'pages/two-factor-stop', { client, heading: 'twoFactor.voidHeading', text: 'twoFactor.void', uid, csrf: csrf.issue('two-factor-decline', uid) });
    }
    return renderPage(ctx, views, status, 'pages/two-factor', { client, uid, error, trustDays, trustLabel, csrf: csrf.issue('two-factor', uid), declineCsrf: csrf.issue('two-factor-decline', uid) });
  }

  router.get('/', async (ctx: Context, next: Next) => {
    const interaction = await pendingStep(ctx);
    if (!interaction) return next();
    log.debug('two_factor.prompted', { channel: 'hosted' });
    return renderStep(ctx, interaction);
  });

  router.post('/two-factor', parseForm, async (ctx) => {
    const interaction = await pendingStep(ctx);
    if (!interaction || interaction.prompt.reasons.includes(REASON_UNAVAILABLE)) return renderGone(ctx);
    const uid = interaction.uid;
    if (!csrf.verify('two-factor', uid, formText(ctx, 'csrf'))) return renderStep(ctx, interaction, 403, 'form.expired');
    // Past the limit even a right code is refused: the step is void.
    if (await tries.voided(interaction.sessionId)) return renderStep(ctx, interaction, 200, '', true);
    const code = formText(ctx, 'code').slice(0, 64);
    if (code.trim() === '') return renderStep(ctx, interaction, 400, 'twoFactor.missing', false);

    // The try is counted before the code is checked: of a burst of answers only the first
    // `maxAttempts` counted are checked, and the rest are refused like any answer past the limit.
    const count = await tries.count(interaction.sessionId, await countsEndAt(interaction.sessionId));
    // The try that reached the limit voided the step (see SecondFactorTries.count).
    const voided = count >= maxAttempts;
    if (count > maxAttempts) return renderStep(ctx, interaction, 200, '', true);
    const accountId = interaction.session!.accountId;
    const verified = await service.verify(accountId, code);
    if (!verified.ok) {
      log.info('two_factor.rejected', { channel: 'hosted', reason: verified.problem });
      if (verified.problem === 'limited') return renderStep(ctx, interaction, 429, 'twoFactor.limited', voided);
      return renderStep(ctx, interaction, 400, { key: 'twoFactor.wrong', vars: { count: Math.max(0, maxAttempts - count) } }, voided);
    }

    log.info('two_factor.accepted', { channel: 'hosted', user: accountId, factor: verified.kind });
    if (formText(ctx, 'trust') === 'yes') {
      const trustId = await service.trustDevice(accountId);
      ctx.cookies.set(TRUST_COOKIE, trustId, {
        signed: true,
        httpOnly: true,
        sameSite: 'lax',
        secure: ctx.secure,
        path: `${baseOf(ctx)}/`,
        maxAge: service.trustTimeToLiveInSeconds * 1000,
      });
    }
    // The login is given again with both factors: the session's amr and acr then say so.
    const earlier = (interaction.lastSubmission?.login ?? {}) as Record<string, unknown>;
    const amr = [...new Set([...(interaction.session?.amr ?? ['email']), AMR_SECOND_FACTOR])];
    await finishInteraction(provider, ctx, { login: { ...earlier, accountId, amr, acr: ACR_MULTI_FACTOR }, [TWO_FACTOR_PROMPT]: { factor: verified.kind } }, true);
  });

  /**
   * Leaves the sign-in: the client hears why (no second factor to give, or too many wrong codes).
   * A user who had to give a code and did not must start again with a new magic link; a user who
   * has no second factor keeps the login, which is complete without one.
   */
  router.post('/two-factor/decline', parseForm, async (ctx) => {
    const interaction = await pendingStep(ctx);
    if (!interaction || !csrf.verify('two-factor-decline', interaction.uid, formText(ctx, 'csrf'))) return renderGone(ctx);
    const unavailable = interaction.prompt.reasons.includes(REASON_UNAVAILABLE);
    if (!unavailable) await tries.decline(interaction.sessionId, await countsEndAt(interaction.sessionId));
    await finishInteraction(
      provider,
      ctx,
      unavailable
        ? { error: 'unmet_authentication_requirements', error_description: 'The user has no second factor, which this client requires.' }
        : { error: 'access_denied', error_description: 'The second factor was not given.' },
    );
  });

  return router;
}
