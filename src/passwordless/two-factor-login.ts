import type { TwoFactorLoginRecord, TwoFactorLoginRepository, UserRecord } from '../storage/types.js';
import { hasAuthenticator, type SecondFactorKind, type TwoFactorService } from '../accounts/two-factor.js';
import { hashCode } from './hash.js';
import { randomBase64url } from './generators.js';
import type { SecondFactorChallenge, SecondFactorGate } from './api-login.js';

export interface ApiSecondFactorSettings {
  twoFactorIdTimeToLiveInSeconds: number;
  maxAttempts: number;
}

export type SecondFactorAnswer =
  | { kind: 'ok'; record: TwoFactorLoginRecord; factor: SecondFactorKind }
  | { kind: 'not_found' }
  | { kind: 'wrong' };

/**
 * The REST API's second factor: a user with an authenticator gets a `twoFactorId` (FusionAuth's
 * 242) instead of a token, unless the caller shows a live `twoFactorTrustId` of that user.
 * Only a hash of the id is stored; it lives a few minutes and takes a few wrong answers.
 */
export class ApiSecondFactor implements SecondFactorGate {
  constructor(
    private readonly logins: TwoFactorLoginRepository,
    readonly service: TwoFactorService,
    private readonly settings: ApiSecondFactorSettings,
  ) {}

  async challenge(user: UserRecord, request: { applicationId: string | null; twoFactorTrustId: string | null; state: Record<string, unknown> | null }, now = Date.now()): Promise<SecondFactorChallenge | null> {
    if (!hasAuthenticator(user)) return null;
    if (await this.service.isTrusted(user.id, request.twoFactorTrustId, now)) return null;
    const twoFactorId = randomBase64url(32);
    await this.logins.insert({
      id: hashCode(twoFactorId),
      userId: user.id,
      applicationId: request.applicationId,
      state: request.state,
      status: 'pending',
      attempts: 0,
      createdAt: now,
      expiresAt: now + this.settings.twoFactorIdTimeToLiveInSeconds * 1000,
    });
    return { twoFactorId, methods: (user.twoFactor?.methods ?? []).map((m) => ({ id: m.id, method: m.method })) };
  }

  /** Checks the code for a twoFactorId; the id is spent by the right answer and void after too many wrong ones. */
  async answer(twoFactorId: string, code: string, now = Date.now()): Promise<SecondFactorAnswer> {
    const id = hashCode(twoFactorId);
    const record = await this.logins.findById(id, now);
    if (!record || record.status !== 'pending' || record.attempts >= this.settings.maxAttempts) return { kind: 'not_found' };
    const verified = await this.service.verify(record.userId, code, now);
    if (!verified.ok) {
      if (verified.problem === 'not_enrolled') return { kind: 'not_found' };
      await this.logins.incrementAttempts(id, hashCode(`${id}:${code.trim()}`));
      return { kind: 'wrong' };
    }
    if (!(await this.logins.complete(id, now, this.settings.maxAttempts))) return { kind: 'not_found' };
    return { kind: 'ok', record, factor: verified.kind };
  }
}
