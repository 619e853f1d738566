import { randomBytes } from 'node:crypto';
import { hashCode } from '../passwordless/hash.js';
import { modifyUser } from './users.js';
import { withTry, type RateCheck, type RateRule } from '../passwordless/rate-limits.js';
import { DuplicateKeyError, type CounterRepository, type TwoFactorEnrolmentRecord, type TwoFactorMethodSummary, type TwoFactorRepository, type TwoFactorTrustRepository, type UserRecord, type UserRepository } from '../storage/types.js';
import type { SecretBox } from './secret-box.js';
import { isBase32Secret, otpauthUri, totpStepOf } from './totp.js';

/**
 * The second factor of a user: enrolment of an authenticator (TOTP) with recovery codes,
 * checking a code, and trusted devices. Used by the hosted pages, the REST API and the CLI.
 */

export interface TwoFactorSettings {
  issuerName: string;
  trustTimeToLiveInSeconds: number;
  /** Wrong codes per user across sign-ins; null when rate limits are off. */
  wrongCodesPerAccount: RateRule | null;
}

export interface TwoFactorStores {
  users: UserRepository;
  twoFactor: TwoFactorRepository;
  twoFactorTrusts: TwoFactorTrustRepository;
  counters: CounterRepository;
}

/** Which second factor answered: a TOTP code or a recovery code. */
export type SecondFactorKind = 'otp' | 'recovery_code';

export type VerifyResult = { ok: true; kind: SecondFactorKind } | { ok: false; problem: 'wrong' | 'not_enrolled' | 'limited' };

export type EnableResult =
  | { ok: true; method: TwoFactorMethodSummary; recoveryCodes: string[]; otpauthUri: string }
  | { ok: false; problem: 'no_user' | 'already_enabled' | 'invalid_secret' | 'wrong_code' };

export type DisableResult = { ok: true } | { ok: false; problem: 'no_user' | 'not_enabled' | 'wrong_method' | 'wrong_code' };

const RECOVERY_CODE_COUNT = 10;
/** 32 symbols without look-alikes (no 0/O, 1/I): a byte masked to 5 bits picks one without bias. */
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

function randomSymbols(count: number): string {
  return [...randomBytes(count)].map((byte) => ALPHABET[byte & 31]).join('');
}

/** A recovery code as typed, reduced to what we hash: case, spaces and dashes do not matter. */
function normalizeRecoveryCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]/g, '');
}

function newRecoveryCode(): string {
  const symbols = randomSymbols(10);
  return `${symbols.slice(0, 5)}-${symbols.slice(5)}`;
}

export function authenticatorMethod(id: string): TwoFactorMethodSummary {
  return { id, method: 'authenticator', authenticator: { algorithm: 'HmacSHA1', codeLength: 6, timeStep: 30 } };
}

export function hasAuthenticator(user: UserRecord): boolean {
  return (user.twoFactor?.methods.length ?? 0) > 0;
}

export class TwoFactorService {
  constructor(
    private readonly stores: TwoFactorStores,
    private readonly box: SecretBox,
    readonly settings: TwoFactorSettings,
  ) {}

  /**
   * Enrols an authenticator after the user proved it works with a current code. The enrolling
   * code's step counts as used, so it cannot be replayed at sign-in.
   */
  async enable(userId: string, secretBase32: string, code: string, now = Date.now()): Promise<EnableResult> {
    if (!isBase32Secret(secretBase32)) return { ok: false, problem: 'invalid_secret' };
    const step = totpStepOf(secretBase32, code.trim(), now);
    if (step === null) return { ok: false, problem: 'wrong_code' };
    return this.enrol(userId, secretBase32, step, now);
  }

  /** Enrols without a code (an administrator on the command line); the user then scans the URI. */
  async enrol(userId: string, secretBase32: string, lastUsedStep = 0, now = Date.now()): Promise<EnableResult> {
    const user = await this.stores.users.findById(userId);
    if (!user) return { ok: false, problem: 'no_user' };
    if (hasAuthenticator(user)) return { ok: false, problem: 'already_enabled' };
    // Left over from a deleted user who had this id: it is not this user's.
    if (await this.stores.twoFactor.findByUser(userId)) await this.stores.twoFactor.delete(userId);
    const secret = secretBase32.toUpperCase();
    const recoveryCodes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    const method = authenticatorMethod(randomSymbols(4));
    try {
      await this.stores.twoFactor.insert({
        userId,
        methodId: method.id,
        method: 'authenticator',
        sealedSecret: this.box.seal(secret, userId),
        recoveryCodeHashes: recoveryCodes.map((c) => hashCode(normalizeRecoveryCode(c))),
        lastUsedStep,
        insertInstant: now,
      });
    } catch (err) {
      if (err instanceof DuplicateKeyError) return { ok: false, problem: 'already_enabled' };
      throw err;
    }
    await this.#setMethods(userId, [method], now);
    return { ok: true, method, recoveryCodes, otpauthUri: otpauthUri(secret, user.email, this.settings.issuerName) };
  }

  /**
   * Removes the user's authenticator, named by its method id or proven with a current code (or a
   * recovery code). Every device the user trusted must give a second factor again.
   */
  async disable(userId: string, proof: { methodId?: string; code?: string }, now = Date.now()): Promise<DisableResult> {
    const user = await this.stores.users.findById(userId);
    if (!user) return { ok: false, problem: 'no_user' };
    const enrolment = await this.stores.twoFactor.findByUser(userId);
    if (!enrolment && !hasAuthenticator(user)) return { ok: false, problem: 'not_enabled' };
    if (proof.methodId !== undefined && enrolment && proof.methodId !== enrolment.methodId) return { ok: false, problem: 'wrong_method' };
    if (proof.methodId === undefined && proof.code !== undefined && !(await this.verify(userId, proof.code, now)).ok) return { ok: false, problem: 'wrong_code' };
    await this.stores.twoFactor.delete(userId);
    await this.#setMethods(userId, [], now);
    await this.stores.twoFactorTrusts.deleteByUser(userId);
    return { ok: true };
  }

  /**
   * Checks a TOTP code (±1 step, each step once) or a recovery code (each once). Each answer takes
   * one unit of the user's budget before it is checked, so a burst of answers cannot all pass a
   * check made before any of them was counted; a right answer gives its unit back. Past the
   * budget every answer is refused, unchecked, until the window ends.
   */
  async verify(userId: string, code: string, now = Date.now()): Promise<VerifyResult> {
    const enrolment = await this.stores.twoFactor.findByUser(userId);
    if (!enrolment) return { ok: false, problem: 'not_enrolled' };
    const tried = await withTry(this.stores.counters, this.#wrongCodeChecks(userId), () => this.#check(enrolment, code.trim(), now), (kind) => kind === null, now);
    if (!tried.allowed) return { ok: false, problem: 'limited' };
    if (tried.result === null) return { ok: false, problem: 'wrong' };
    return { ok: true, kind: tried.result };
  }

  /** Which factor `typed` is, spending it (a TOTP step or a recovery code is good once); null when wrong. */
  async #check(enrolment: TwoFactorEnrolmentRecord, typed: string, now: number): Promise<SecondFactorKind | null> {
    const { userId, methodId } = enrolment;
    const secret = this.box.open(enrolment.sealedSecret, userId);
    const step = secret === null ? null : totpStepOf(secret, typed, now);
    if (step !== null) return (await this.stores.twoFactor.claimStep(userId, methodId, step)) ? 'otp' : null;
    const normalized = normalizeRecoveryCode(typed);
    if (/^[A-Z0-9]{10}$/.test(normalized) && (await this.stores.twoFactor.useRecoveryCode(userId, methodId, hashCode(normalized)))) return 'recovery_code';
    return null;
  }

  /** Trusts a device for the user: returns the trust id (a cookie value or FusionAuth's twoFactorTrustId). */
  async trustDevice(userId: string, now = Date.now()): Promise<string> {
    const trustId = randomBytes(32).toString('base64url');
    await this.stores.twoFactorTrusts.insert({ id: hashCode(trustId), userId, insertInstant: now, expiresAt: now + this.settings.trustTimeToLiveInSeconds * 1000 });
    return trustId;
  }

  /** Whether `trustId` is a live trust of this very user (a trust of another user does not count). */
  async isTrusted(userId: string, trustId: string | null | undefined, now = Date.now()): Promise<boolean> {
    if (!trustId || trustId.length > 128) return false;
    const record = await this.stores.twoFactorTrusts.findById(hashCode(trustId), now);
    return record !== null && record.userId === userId;
  }

  /** Through modifyUser, so an administrator's change made meanwhile is kept, not overwritten. */
  async #setMethods(userId: string, methods: TwoFactorMethodSummary[], now: number): Promise<void> {
    await modifyUser(this.stores.users, userId, (user) => {
      user.twoFactor = { methods };
      user.lastUpdateInstant = now;
      return null;
    });
  }

  /** The user's wrong-code budget across sign-ins (its counters keep their `2fa-wrong:` keys); none when rate limits are off. */
  #wrongCodeChecks(userId: string): RateCheck[] {
    const rule = this.settings.wrongCodesPerAccount;
    return rule ? [['twoFactor.wrongCodesPerAccount', `2fa-wrong:${userId}`, rule]] : [];
  }
}
