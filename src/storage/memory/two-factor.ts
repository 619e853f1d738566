import { copy, deleteUserRecords } from './shared.js';
import {
  DuplicateKeyError,
  type TwoFactorEnrolmentRecord,
  type TwoFactorLoginRecord,
  type TwoFactorLoginRepository,
  type TwoFactorRepository,
  type TwoFactorTrustRecord,
  type TwoFactorTrustRepository,
} from '../types.js';

/** The memory store's two-factor state. Each method runs without an await, so it is atomic here. */


export class MemoryTwoFactor implements TwoFactorRepository {
  readonly #byUser = new Map<string, TwoFactorEnrolmentRecord>();

  async insert(record: TwoFactorEnrolmentRecord): Promise<void> {
    if (this.#byUser.has(record.userId)) throw new DuplicateKeyError('userId');
    this.#byUser.set(record.userId, copy(record));
  }

  async findByUser(userId: string): Promise<TwoFactorEnrolmentRecord | null> {
    const record = this.#byUser.get(userId);
    return record ? copy(record) : null;
  }

  async claimStep(userId: string, methodId: string, step: number): Promise<boolean> {
    const record = this.#byUser.get(userId);
    if (!record || record.methodId !== methodId || record.lastUsedStep >= step) return false;
    record.lastUsedStep = step;
    return true;
  }

  async useRecoveryCode(userId: string, methodId: string, codeHash: string): Promise<boolean> {
    const record = this.#byUser.get(userId);
    if (!record || record.methodId !== methodId) return false;
    const index = record.recoveryCodeHashes.indexOf(codeHash);
    if (index === -1) return false;
    record.recoveryCodeHashes.splice(index, 1);
    return true;
  }

  async delete(userId: string): Promise<boolean> {
    return this.#byUser.delete(userId);
  }
}

export class MemoryTwoFactorLogins implements TwoFactorLoginRepository {
  readonly #byId = new Map<string, TwoFactorLoginRecord>();

  async insert(record: TwoFactorLoginRecord): Promise<void> {
    if (this.#byId.has(record.id)) throw new DuplicateKeyError('id');
    for (const [id, existing] of this.#byId) if (existing.expiresAt <= record.createdAt) this.#byId.delete(id);
    this.#byId.set(record.id, copy(record));
  }

  async findById(id: string, now: number): Promise<TwoFactorLoginRecord | null> {
    const record = this.#byId.get(id);
    return record && record.expiresAt > now ? copy(record) : null;
  }

  async reserveAttempt(id: string, answerHash: string, now: number, maxAttempts: number): Promise<TwoFactorLoginRecord | null> {
    const record = this.#byId.get(id);
    if (!record || record.status !== 'pending' || record.expiresAt <= now || record.attempts >= maxAttempts || record.lastWrongHash === answerHash) return null;
    record.attempts += 1;
    record.lastWrongHash = answerHash;
    return copy(record);
  }

  async complete(id: string, now: number): Promise<boolean> {
    const record = this.#byId.get(id);
    if (!record || record.status !== 'pending' || record.expiresAt <= now) return false;
    record.status = 'used';
    return true;
  }

  async deleteByUser(userId: string): Promise<number> {
    return deleteUserRecords(this.#byId, userId);
  }
}

export class MemoryTwoFactorTrusts implements TwoFactorTrustRepository {
  readonly #byId = new Map<string, TwoFactorTrustRecord>();

  async insert(record: TwoFactorTrustRecord): Promise<void> {
    if (this.#byId.has(record.id)) throw new DuplicateKeyError('id');
    for (const [id, existing] of this.#byId) if (existing.expiresAt <= record.insertInstant) this.#byId.delete(id);
    this.#byId.set(record.id, copy(record));
  }

  async findById(id: string, now: number): Promise<TwoFactorTrustRecord | null> {
    const record = this.#byId.get(id);
    return record && record.expiresAt > now ? copy(record) : null;
  }

  async deleteByUser(userId: string): Promise<number> {
    return deleteUserRecords(this.#byId, userId);
  }
}
