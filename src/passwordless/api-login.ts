import type { PasswordlessCodeRecord, UserRecord, UserRepository } from '../storage/types.js';
import { isExpired } from '../accounts/admin.js';
import { findByLoginId, registrationFor, type LoginIdType } from '../accounts/users.js';
import type { ApiTokenSigner } from '../tokens/jwt.js';
import type { ApiRefreshTokens } from '../tokens/refresh.js';
import { log } from '../log.js';
import type { Events } from '../events/events.js';
import { recordLoginWithEvent } from '../accounts/directory.js';
import type { CodeProblem, PasswordlessCodes } from './codes.js';
import type { ClientPolicy } from './magic-link.js';
import { accountBudget, type RateLimiter } from './rate-limits.js';

/** What the REST API needs to know about an application (an OAuth client). */
export interface ApplicationInfo extends ClientPolicy {
  /** The client may use the refresh_token grant. */
  allowsRefreshToken: boolean;
  redirectUris: readonly string[];
}

/** Finds configured applications by client_id. */
export interface ApplicationDirectory {
  find(clientId: string): Promise<ApplicationInfo | null>;
}

/**
 * The second factor of an API login. The two-factor feature supplies a real gate; until then
 * no login needs one. A challenge turns the login into FusionAuth's 242 answer.
 */
export interface SecondFactorGate {
  challenge(user: UserRecord, request: { applicationId: string | null; twoFactorTrustId: string | null; state: Record<string, unknown> | null }): Promise<SecondFactorChallenge | null>;
}

export interface SecondFactorChallenge {
  twoFactorId: string;
  methods: { id: string; method: string }[];
}

export const noSecondFactor: SecondFactorGate = { challenge: async () => null };

export type StartResult =
  | { ok: true; code: string; oneTimeCode: string | null }
  | { ok: false; problem: 'unknown_user' };

export interface LoginRequest {
  code: string;
  oneTimeCode: string | null;
  /** Already checked to exist by the caller, or null. */
  application: ApplicationInfo | null;
  noJWT: boolean;
  twoFactorTrustId: string | null;
  ipAddress: string | null;
  deviceType: string | null;
}

/** Every way an API login can end; each maps to one HTTP status of the contract. */
export type LoginOutcome =
  | { kind: 'not_found' }
  | { kind: 'locked' }
  | { kind: 'expired' }
  | { kind: 'prevented'; reason: string }
  /** The account's budget of wrong typed codes is spent (429). */
  | { kind: 'rate_limited'; retryAfterSeconds: number }
  | ({ kind: 'two_factor'; state: Record<string, unknown> | null } & SecondFactorChallenge)
  | {
      kind: 'complete';
      /** false: logged in, but not registered for the application asked for (202). */
      registered: boolean;
      user: UserRecord;
      state: Record<string, unknown> | null;
      token?: string;
      tokenExpirationInstant?: number;
      refreshToken?: string;
      refreshTokenId?: string;
    };

export interface ApiLoginDeps {
  users: UserRepository;
  codes: PasswordlessCodes;
  signer: ApiTokenSigner;
  refreshTokens: ApiRefreshTokens;
  secondFactor?: SecondFactorGate;
  /** Counts wrong one-time codes per account, across codes (a disabled limiter counts none). */
  limiter: RateLimiter;
  /** Where the application a code was started for is looked up: its rules bind every login with the code. */
  applications: ApplicationDirectory;
  /** user.login.success, written in the same step of the store as the login's record (webhooks). */
  events?: Events;
}

/** How spending the code of a login ended: spent, or the login's answer when it was not. */
type Redeemed = { kind: 'redeemed'; record: PasswordlessCodeRecord } | Extract<LoginOutcome, { kind: 'not_found' | 'rate_limited' }>;

/** Why one of the applications refuses this user outright (FusionAuth's 409 "login prevented"), or null. */
function loginPreventedBy(user: UserRecord, applications: readonly (ApplicationInfo | null)[]): string | null {
  for (const application of applications) {
    if (!application) continue;
    if (!application.passwordlessEnabled) return 'passwordless login is disabled for this application';
    if (application.requireRegistration && !registrationFor(user, application.clientId)) return 'this application requires a registration';
  }
  return null;
}

/**
 * The FusionAuth-compatible passwordless login of the REST API: start (issue a code for a
 * user), look a code up for sending, and log in with it.
 */
export class PasswordlessApi {
  readonly #secondFactor: SecondFactorGate;

  constructor(private readonly deps: ApiLoginDeps) {
    this.#secondFactor = deps.secondFactor ?? noSecondFactor;
  }

  /**
   * Issues a code for the user this login id names (by email, then username, or in the order of
   * `loginIdTypes`); earlier codes of the user stop working.
   */
  async start(input: { application: ApplicationInfo; loginId: string; loginIdTypes?: readonly LoginIdType[]; state: Record<string, unknown> | null; withShortCode: boolean }): Promise<StartResult> {
    const user = await findByLoginId(this.deps.users, input.loginId, input.loginIdTypes);
    if (!user) return { ok: false, problem: 'unknown_user' };
    const issued = await this.deps.codes.issue({
      userId: user.id,
      clientId: input.application.clientId,
      interactionUid: null,
      state: input.state,
      withShortCode: input.withShortCode,
    });
    log.info('code.requested', { user: user.id, client: input.application.clientId, method: 'api', strategy: input.withShortCode ? 'FormField' : 'ClickableLink' });
    return { ok: true, code: issued.linkCode, oneTimeCode: issued.shortCode };
  }

  /** An API-started code that can still be used, with its user; null otherwise. Read-only. */
  async usableCode(linkCode: string): Promise<{ record: PasswordlessCodeRecord; user: UserRecord } | null> {
    const found = await this.lookupCode(linkCode);
    return found.usable ? found : null;
  }

  /** As {@link usableCode}, but says why a code cannot be used (for the pages of the emailed link). Read-only. */
  async lookupCode(linkCode: string): Promise<{ usable: true; record: PasswordlessCodeRecord; user: UserRecord } | { usable: false; problem: CodeProblem }> {
    const lookup = await this.deps.codes.inspect(linkCode);
    if (!lookup.usable) return { usable: false, problem: lookup.problem };
    // Codes of the hosted flow belong to a browser's sign-in; the API never hands them out.
    if (lookup.record.interactionUid !== null) return { usable: false, problem: 'unknown' };
    const user = await this.deps.users.findById(lookup.record.userId);
    if (!user) return { usable: false, problem: 'unknown' };
    return { usable: true, record: lookup.record, user };
  }

  /** The one-time code that goes with a link code (for the email /send sends); null when it has none. */
  shortCodeFor(linkCode: string, record: PasswordlessCodeRecord): string | null {
    return this.deps.codes.shortCodeFor(linkCode, record);
  }

  /** Logs in with a code (or a code and its one-time code). Exactly one concurrent call can win. */
  async login(request: LoginRequest, now = Date.now()): Promise<LoginOutcome> {
    const found = await this.usableCode(request.code);
    if (!found) {
      log.info('code.rejected', { reason: 'unusable', method: 'api' });
      return { kind: 'not_found' };
    }
    const { user } = found;
    const client = request.application?.clientId ?? null;
    // A code logs in to the application it was started for, no other: for another it is unknown.
    if (client !== null && found.record.clientId !== null && found.record.clientId !== client) {
      log.info('code.rejected', { reason: 'other_application', method: 'api' });
      return { kind: 'not_found' };
    }
    // Refusals come before the code is spent, so the code still works once the account is fixed.
    const refusal = !user.active ? 'locked' : isExpired(user, now) ? 'expired' : null;
    if (refusal) {
      log.info('login.failure', { user: user.id, client, reason: refusal, method: 'api_passwordless' });
      return { kind: refusal };
    }
    const prevented = await this.#preventedFor(user, found.record, request.application);
    if (prevented) {
      log.info('login.failure', { user: user.id, client, reason: 'prevented', method: 'api_passwordless' });
      return { kind: 'prevented', reason: prevented };
    }
    const redeemed = await this.#redeem(request, found.record, now);
    if (redeemed.kind !== 'redeemed') return redeemed;
    const { record } = redeemed;
    log.info('code.redeemed', { user: user.id, client, method: request.oneTimeCode === null ? 'api_link' : 'api_typed' });

    const applicationId = request.application?.clientId ?? null;
    const challenge = await this.#secondFactor.challenge(user, { applicationId, twoFactorTrustId: request.twoFactorTrustId, state: record.state });
    if (challenge) {
      log.debug('two_factor.prompted', { channel: 'api' });
      return { kind: 'two_factor', state: record.state, ...challenge };
    }
    return this.#complete(user, record.state, request, now);
  }

  /**
   * Finishes a login whose second factor was just answered (POST /api/two-factor/login): the
   * same checks and answer as a login without one.
   */
  async completeAfterSecondFactor(userId: string, state: Record<string, unknown> | null, request: Omit<LoginRequest, 'code' | 'oneTimeCode' | 'twoFactorTrustId'>, now = Date.now()): Promise<LoginOutcome> {
    const user = await this.deps.users.findById(userId);
    if (!user) return { kind: 'not_found' };
    if (!user.active) return { kind: 'locked' };
    if (isExpired(user, now)) return { kind: 'expired' };
    const prevented = loginPreventedBy(user, [request.application]);
    if (prevented) return { kind: 'prevented', reason: prevented };
    return this.#complete(user, state, { ...request, code: '', oneTimeCode: null, twoFactorTrustId: null }, now);
  }

  /**
   * Why the login with this code is refused by an application: the one the code was started for
   * (its rules hold whether the login names no application or another one, or they could be
   * walked around) and the one the login names. A code whose application is gone is refused.
   */
  async #preventedFor(user: UserRecord, record: PasswordlessCodeRecord, named: ApplicationInfo | null): Promise<string | null> {
    if (record.clientId === null || record.clientId === named?.clientId) return loginPreventedBy(user, [named]);
    const startedFor = await this.deps.applications.find(record.clientId);
    if (!startedFor) return 'the application this login was started for no longer exists';
    return loginPreventedBy(user, [startedFor, named]);
  }

  /** Spends the code: by its link alone, or by its one-time code under the account's budget of typed codes. */
  async #redeem(request: LoginRequest, record: PasswordlessCodeRecord, now: number): Promise<Redeemed> {
    // A FormField code (it has a one-time code) logs in only with it: without one, it is a wrong guess.
    const oneTimeCode = request.oneTimeCode ?? (record.shortHash === null ? null : '');
    if (oneTimeCode === null) {
      const result = await this.deps.codes.redeemLink(request.code, {}, now);
      if (result.usable) return { kind: 'redeemed', record: result.record };
      log.info('code.rejected', { reason: result.problem, method: 'api_link' });
      return { kind: 'not_found' };
    }
    // The try is taken before the code is compared, so a burst cannot outrun the budget; given back unless wrong.
    // The client address: the one the integrator passes on (FusionAuth's ipAddress), else the caller's.
    const tried = await this.deps.limiter.withCodeTry([accountBudget(record.userId)], () => this.deps.codes.redeemShortCode(record, oneTimeCode, now), now, request.ipAddress);
    if (!tried.allowed) return { kind: 'rate_limited', retryAfterSeconds: tried.retryAfterSeconds };
    if (tried.result.ok) return { kind: 'redeemed', record: tried.result.record };
    log.info('code.rejected', { reason: tried.result.problem, method: 'api_typed' });
    return { kind: 'not_found' };
  }

  async #complete(user: UserRecord, state: Record<string, unknown> | null, request: LoginRequest, now: number): Promise<LoginOutcome> {
    const application = request.application;
    const registration = application ? registrationFor(user, application.clientId) : undefined;
    const registered = application === null || registration !== undefined;
    // The code was spent earlier, in a step of its own: a second factor may come in between, and a typed code's try stays counted.
    const recorded = await recordLoginWithEvent(this.deps.users, this.deps.events, { userId: user.id, applicationId: application?.clientId ?? null, now, ...(request.ipAddress ? { info: { ipAddress: request.ipAddress } } : {}) });
    const current = recorded ?? user;
    log.info('login.success', { user: user.id, client: application?.clientId ?? null, method: 'api_passwordless', ip: request.ipAddress, device: request.deviceType });

    const outcome: LoginOutcome = { kind: 'complete', registered, user: current, state };
    if (request.noJWT) return outcome;
    const signed = await this.deps.signer.sign(current, { applicationId: application?.clientId ?? null, roles: registration?.roles ?? [], authInstant: now }, now);
    outcome.token = signed.token;
    outcome.tokenExpirationInstant = signed.expiresAt;
    if (application && registration && application.allowsRefreshToken) {
      const issued = await this.deps.refreshTokens.issue(user.id, application.clientId, now, now);
      outcome.refreshToken = issued.refreshToken;
      outcome.refreshTokenId = issued.refreshTokenId;
    }
    return outcome;
  }

  /**
   * Exchanges a refresh token for a new JWT. Under the application's OneTimeUse policy (ours by
   * default) the old token is spent and a new one issued; under Reusable (FusionAuth's default)
   * the same token and refreshTokenId come back. null when the token is unknown, expired or
   * used, or the user can no longer sign in.
   */
  async refresh(
    refreshToken: string,
    applications: ApplicationDirectory,
    now = Date.now(),
  ): Promise<{ applicationId: string; answer: { token: string; tokenExpirationInstant: number; refreshToken: string; refreshTokenId: string } } | null> {
    const accepted = await this.deps.refreshTokens.accept(refreshToken, now);
    if (!accepted) return null;
    const { record } = accepted;
    const user = await this.deps.users.findById(record.userId);
    const application = await applications.find(record.applicationId);
    const registration = user ? registrationFor(user, record.applicationId) : undefined;
    if (!user || !user.active || isExpired(user, now) || !application || !registration || !application.allowsRefreshToken) return null;
    const signed = await this.deps.signer.sign(user, { applicationId: record.applicationId, roles: registration.roles, authInstant: record.startInstant }, now);
    const issued = accepted.reusable
      ? { refreshToken, refreshTokenId: record.id }
      : await this.deps.refreshTokens.issue(user.id, record.applicationId, record.startInstant, now, record.chainId ?? record.id);
    return { applicationId: record.applicationId, answer: { token: signed.token, tokenExpirationInstant: signed.expiresAt, ...issued } };
  }
}
