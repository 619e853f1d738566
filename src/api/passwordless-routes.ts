import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { mayUseClient, type DirectLinkMailer } from '../passwordless/magic-link.js';
import { canSignIn } from '../accounts/users.js';
import { log } from '../log.js';
import { SENDS_PER_CODE_RULE, type RateLimiter } from '../passwordless/rate-limits.js';
import { AppError } from '../http/errors.js';
import { MailUnavailableError } from '../mail/errors.js';
import type { ApplicationDirectory, ApplicationInfo, LoginOutcome, PasswordlessApi } from '../passwordless/api-login.js';
import { answerEmpty } from './respond.js';
import { emailedLink } from './emailed-link.js';
import { fieldError, parseInput } from './validation.js';
import { legacySendRequest, loginRequest, sendRequest, startRequest } from './schemas.js';
import type { ApiKeyAuthority } from './api-keys.js';
import type { TokenCookies } from './token-cookies.js';
import { userJson } from './user-json.js';

export interface PasswordlessRouteDeps {
  issuer: string;
  api: PasswordlessApi;
  applications: ApplicationDirectory;
  mailer: DirectLinkMailer;
  limiter: RateLimiter;
  requireKey: Middleware;
  /** For FusionAuth's deprecated one-call /send, which starts a login and so needs the start permission. */
  authority: ApiKeyAuthority;
  body: Middleware;
  cookies: TokenCookies;
}

/** How many times one code may be emailed: enough for "I did not get it", too few to flood an inbox. */
const SENDS_PER_CODE = 3;

/** 429 in FusionAuth's shape, with the time to wait. */
function tooManyRequests(ctx: Context, retryAfterSeconds: number, what = 'Too many sign-in emails'): AppError {
  ctx.set('Retry-After', String(retryAfterSeconds));
  return new AppError(429, 'TooManyRequests', `${what}; try again in ${retryAfterSeconds} seconds.`);
}

/** An application that exists and may use passwordless login, else a 400 naming `field`. */
async function passwordlessApplication(applications: ApplicationDirectory, id: string, field = 'applicationId'): Promise<ApplicationInfo> {
  const application = await applications.find(id);
  if (!application) throw fieldError(field, 'invalid', `No application has the id ${JSON.stringify(id)}.`);
  if (!application.passwordlessEnabled) throw fieldError(field, 'invalid', 'Passwordless login is not enabled for this application.');
  return application;
}

/** The JSON answer of a login, with FusionAuth's status codes. */
export function respondToLogin(ctx: Context, outcome: LoginOutcome): void {
  ctx.set('Cache-Control', 'no-store');
  switch (outcome.kind) {
    case 'not_found':
      return answerEmpty(ctx, 404);
    case 'locked':
      return answerEmpty(ctx, 423);
    case 'expired':
      return answerEmpty(ctx, 410);
    case 'rate_limited':
      throw tooManyRequests(ctx, outcome.retryAfterSeconds, 'Too many wrong one-time codes');
    case 'prevented':
      throw new AppError(409, 'LoginPreventedException', `The login is prevented: ${outcome.reason}.`);
    case 'two_factor':
      ctx.status = 242;
      ctx.body = { twoFactorId: outcome.twoFactorId, methods: outcome.methods, ...(outcome.state ? { state: outcome.state } : {}) };
      return;
    case 'complete': {
      ctx.status = outcome.registered ? 200 : 202;
      ctx.body = {
        ...(outcome.token !== undefined ? { token: outcome.token, tokenExpirationInstant: outcome.tokenExpirationInstant } : {}),
        ...(outcome.refreshToken !== undefined ? { refreshToken: outcome.refreshToken, refreshTokenId: outcome.refreshTokenId } : {}),
        user: userJson(outcome.user),
        ...(outcome.state ? { state: outcome.state } : {}),
      };
    }
  }
}

/** POST /api/passwordless/start|send|login. */
export function passwordlessRoutes(router: Router, deps: PasswordlessRouteDeps): void {
  const { api, applications } = deps;

  router.post('/passwordless/start', deps.requireKey, deps.body, async (ctx) => {
    const input = parseInput(startRequest, ctx.request.body);
    const application = await passwordlessApplication(applications, input.applicationId);
    const started = await api.start({ application, loginId: input.loginId, ...(input.loginIdTypes ? { loginIdTypes: input.loginIdTypes } : {}), state: input.state ?? null, withShortCode: input.loginStrategy === 'FormField' });
    ctx.set('Cache-Control', 'no-store');
    if (!started.ok) return answerEmpty(ctx, 404);
    ctx.body = { code: started.code, ...(started.oneTimeCode !== null ? { oneTimeCode: started.oneTimeCode } : {}) };
  });

  /**
   * FusionAuth's deprecated form `{ applicationId, loginId, state }` starts and sends in one call.
   * It starts a login, so it takes a key allowed to start one; the answer is the same empty 200
   * whether or not the user exists, since nothing is returned to act on.
   */
  async function startForLegacySend(ctx: Context): Promise<string | null> {
    if (!(await deps.authority.allows(ctx.get('authorization') || undefined, 'POST', '/api/passwordless/start'))) {
      answerEmpty(ctx, 401);
      return null;
    }
    const input = parseInput(legacySendRequest, ctx.request.body);
    const application = await passwordlessApplication(applications, input.applicationId);
    const started = await api.start({ application, loginId: input.loginId, ...(input.loginIdTypes ? { loginIdTypes: input.loginIdTypes } : {}), state: input.state ?? null, withShortCode: false });
    if (!started.ok) answerEmpty(ctx, 200);
    return started.ok ? started.code : null;
  }

  router.post('/passwordless/send', deps.body, async (ctx) => {
    const body = ctx.request.body as Record<string, unknown> | undefined;
    const legacy = body !== undefined && body.code === undefined && body.loginId !== undefined;
    const input = legacy ? { code: await startForLegacySend(ctx) } : parseInput(sendRequest, body);
    if (input.code === null) return;
    const found = await api.usableCode(input.code);
    if (!found) throw fieldError('code', 'invalid', 'The code is unknown, expired or already used.');
    const application = found.record.clientId ? await applications.find(found.record.clientId) : null;
    // As the hosted sign-in: an email goes out only to a user who may use the code's application
    // (its login would be refused anyway). The answer stays 200, as when it is sent.
    if (!(application ? mayUseClient(found.user, application) : found.record.clientId === null && canSignIn(found.user))) {
      log.info('code.not_sent', { reason: 'not_allowed', user: found.user.id, client: found.record.clientId, method: 'api' });
      return answerEmpty(ctx, 200);
    }
    // Counted before the send, so concurrent sends cannot pass a limit together; a send a limit
    // refused, or that an unreachable mail server could not take, gives back what it counted.
    // No per-IP budget: the caller is the integrator's server, sending for all its users (see RateLimiter.allowSend).
    const countedAt = Date.now();
    const sendsOfCode = { key: `api-send:${found.record.id}`, limit: SENDS_PER_CODE, expiresAt: found.record.expiresAt };
    const limit = await deps.limiter.allowSend(found.user.email, null, countedAt, sendsOfCode);
    if (!limit.allowed) {
      // Waiting would not help (the code expires first): the caller needs a new code.
      if (limit.rule === SENDS_PER_CODE_RULE) throw fieldError('code', 'exhausted', `This code was already sent ${SENDS_PER_CODE} times (sends in progress included); start a new one.`);
      throw tooManyRequests(ctx, limit.retryAfterSeconds);
    }
    try {
      // Waits for the mail server (with retries); an outage becomes a 503 through the error handler.
      await deps.mailer.sendNow({
        user: found.user,
        // A FormField code is typed, never clicked: its email holds the one-time code alone (a
        // link would carry the whole code, which logs in without it).
        link: found.record.shortHash === null ? emailedLink(deps.issuer, input.code, null) : null,
        code: api.shortCodeFor(input.code, found.record),
        client: { id: application?.clientId ?? null, name: application?.name ?? 'your account' },
        state: found.record.state,
        expiresAt: new Date(found.record.expiresAt),
        locale: { uiLocales: typeof found.record.state?.ui_locales === 'string' ? found.record.state.ui_locales.split(' ') : [], acceptLanguage: [] },
      });
    } catch (err) {
      // Not sent because the mail server was out of reach or busy through every retry: the try
      // gives back what it counted, or an outage would use up the code's sends and the address's
      // emails. A refusal for good (5xx) stays counted, so a refused recipient cannot be hammered.
      if (err instanceof MailUnavailableError && !err.permanent) await deps.limiter.refundSend(found.user.email, null, countedAt, sendsOfCode);
      throw err;
    }
    answerEmpty(ctx, 200);
  });

  router.post('/passwordless/login', deps.body, async (ctx) => {
    const input = parseInput(loginRequest, ctx.request.body);
    const application = input.applicationId === undefined ? null : await applications.find(input.applicationId);
    if (input.applicationId !== undefined && !application) throw fieldError('applicationId', 'invalid', `No application has the id ${JSON.stringify(input.applicationId)}.`);
    const outcome = await api.login({
      code: input.code,
      oneTimeCode: input.oneTimeCode ?? null,
      application,
      noJWT: input.noJWT,
      // FusionAuth's trust cookie wins over the body, as there.
      twoFactorTrustId: ctx.cookies.get('fusionauth.trust') ?? input.twoFactorTrustId ?? null,
      ipAddress: input.ipAddress ?? ctx.ip,
      deviceType: input.metaData?.device?.type ?? null,
    });
    respondToLogin(ctx, outcome);
    if (outcome.kind === 'complete') deps.cookies.write(ctx, application?.clientId ?? null, outcome);
  });
}
