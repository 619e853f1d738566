import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { ApplicationDirectory, PasswordlessApi } from '../passwordless/api-login.js';
import type { ApiSecondFactor } from '../passwordless/two-factor-login.js';
import { base32FromBase64, newTotpSecret } from '../accounts/totp.js';
import { log } from '../log.js';
import type { Events } from '../events/events.js';
import { answerEmpty } from './respond.js';
import { fieldError, parseInput } from './validation.js';
import { disableTwoFactorQuery, enableTwoFactorRequest, twoFactorLoginRequest, userIdParam } from './schemas.js';
import { respondToLogin } from './passwordless-routes.js';
import type { TokenCookies } from './token-cookies.js';

export interface TwoFactorRouteDeps {
  /** Enrolment changes, written in the same step of the store as the change (webhooks). */
  events: Events;
  api: PasswordlessApi;
  secondFactor: ApiSecondFactor;
  applications: ApplicationDirectory;
  requireKey: Middleware;
  body: Middleware;
  cookies: TokenCookies;
}

function userIdOf(ctx: Context): string | null {
  const parsed = userIdParam.safeParse((ctx.params as Record<string, string>).userId);
  return parsed.success ? parsed.data : null;
}

/** FusionAuth's two-factor API: a secret to enrol, enable, disable, and the login's second step. */
export function twoFactorRoutes(router: Router, deps: TwoFactorRouteDeps): void {
  const { secondFactor, applications } = deps;
  const service = secondFactor.service;

  router.get('/two-factor/secret', deps.requireKey, (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = newTotpSecret();
  });

  router.post('/two-factor/login', deps.body, async (ctx) => {
    const input = parseInput(twoFactorLoginRequest, ctx.request.body);
    // A bad request spends nothing: the application named is checked before the answer spends the twoFactorId.
    const named = input.applicationId === undefined ? undefined : await applications.find(input.applicationId);
    if (named === null) throw fieldError('applicationId', 'invalid', `No application has the id ${JSON.stringify(input.applicationId)}.`);
    const answer = await secondFactor.answer(input.twoFactorId, input.code);
    ctx.set('Cache-Control', 'no-store');
    if (answer.kind === 'not_found') return answerEmpty(ctx, 404);
    if (answer.kind === 'wrong') {
      log.info('two_factor.rejected', { channel: 'api' });
      return answerEmpty(ctx, 421);
    }
    const recorded = answer.record.applicationId;
    const application = named ?? (recorded === null ? null : await applications.find(recorded));
    if (recorded !== null && !application) throw fieldError('applicationId', 'invalid', `No application has the id ${JSON.stringify(recorded)}.`);
    const outcome = await deps.api.completeAfterSecondFactor(answer.record.userId, answer.record.state, {
      application,
      noJWT: input.noJWT,
      ipAddress: input.ipAddress ?? ctx.ip,
      deviceType: null,
    });
    log.info('two_factor.accepted', { channel: 'api', user: answer.record.userId, factor: answer.factor });
    respondToLogin(ctx, outcome);
    if (outcome.kind === 'complete') deps.cookies.write(ctx, application?.clientId ?? null, outcome);
    if (outcome.kind === 'complete' && input.trustComputer) {
      (ctx.body as Record<string, unknown>).twoFactorTrustId = await service.trustDevice(answer.record.userId);
    }
  });

  router.post('/user/two-factor/:userId', deps.requireKey, deps.body, async (ctx) => {
    const id = userIdOf(ctx);
    const input = parseInput(enableTwoFactorRequest, ctx.request.body);
    if (!id) return answerEmpty(ctx, 404);
    const secretBase32 = input.secretBase32Encoded ?? base32FromBase64(input.secret ?? '');
    if (secretBase32 === null) throw fieldError('secret', 'invalid', 'The secret must be base64 (or give secretBase32Encoded).');
    // The enrolment and its event in one step (Events.atomically); a refusal writes neither.
    const result = await deps.events.atomically(async (step) => {
      const enabled = await service.enable(id, secretBase32, input.code);
      if (enabled.ok) step.emit('user.two-factor.method.add', { userId: id, fields: { method: { method: 'authenticator' } }, info: { ipAddress: ctx.ip } });
      return enabled;
    });
    if (!result.ok) {
      switch (result.problem) {
        case 'no_user':
          return answerEmpty(ctx, 404);
        case 'already_enabled':
          throw fieldError('method', 'duplicate', 'The user already has an authenticator; disable it first.');
        case 'invalid_secret':
          throw fieldError(input.secretBase32Encoded !== undefined ? 'secretBase32Encoded' : 'secret', 'invalid', 'The secret must be at least 80 bits long (base32 in secretBase32Encoded, base64 in secret).');
        case 'wrong_code':
          throw fieldError('code', 'invalid', 'The code does not match the secret at this time.');
      }
    }
    log.info('two_factor.enabled', { user: id, method: 'authenticator' });
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { recoveryCodes: result.recoveryCodes };
  });

  router.delete('/user/two-factor/:userId', deps.requireKey, async (ctx) => {
    const id = userIdOf(ctx);
    const query = parseInput(disableTwoFactorQuery, ctx.query);
    const result = id
      ? await deps.events.atomically(async (step) => {
          const disabled = await service.disable(id, query);
          if (disabled.ok) step.emit('user.two-factor.method.remove', { userId: id, fields: { method: { method: 'authenticator' } }, info: { ipAddress: ctx.ip } });
          return disabled;
        })
      : ({ ok: false, problem: 'no_user' } as const);
    if (!result.ok) {
      if (result.problem === 'no_user' || result.problem === 'not_enabled') return answerEmpty(ctx, 404);
      if (result.problem === 'wrong_method') throw fieldError('methodId', 'invalid', 'The user has no two-factor method with this id.');
      throw fieldError('code', 'invalid', 'The code is not right.');
    }
    log.info('two_factor.disabled', { user: id });
    answerEmpty(ctx, 200);
  });
}
