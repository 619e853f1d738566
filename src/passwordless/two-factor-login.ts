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

  /**
   * Checks the code for a twoFactorId; the id is spent by the right answer and void after too many
   * wrong ones. Each answer first takes one of the id's tries, atomically, and only an answer that
   * got one is checked: a burst of answers gets at most `maxAttempts` checks, and every answer
   * past them is refused alike, right or wrong, so the refusals do not tell which one was right.
   */
  async answer(twoFactorId: string, code: string, now = Date.now()): Promise<SecondFactorAnswer> {
    const id = hashCode(twoFactorId);
    const answerHash = hashCode(`${id}:${code.trim()}`);
    // The record comes back with the try: no second read.
    const record = await this.logins.reserveAttempt(id, answerHash, now, this.settings.maxAttempts);
    if (record === null) return this.#whyNoTry(id, answerHash, now);
    const verified = await this.service.verify(record.userId, code, now);
    if (!verified.ok) return verified.problem === 'not_enrolled' ? { kind: 'not_found' } : { kind: 'wrong' };
    if (!(await this.logins.complete(id, now))) return { kind: 'not_found' };
    return { kind: 'ok', record, factor: verified.kind };
  }

  /**
   * An answer that got no try: the id is unknown, spent or void (404), unless the answer repeats
   * the last one counted, which was wrong (the login is still pending): a client resending a
   * request answered 421, as Node's fetch does, hears 421 again, also after the fifth.
   */
  async #whyNoTry(id: string, answerHash: string, now: number): Promise<SecondFactorAnswer> {
    const record = await this.logins.findById(id, now);
    return record?.status === 'pending' && record.lastWrongHash === answerHash ? { kind: 'wrong' } : { kind: 'not_found' };
  }
}
