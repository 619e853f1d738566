import type { Db, IndexDescription } from 'mongodb';
import type {
  TwoFactorEnrolmentRecord,
  TwoFactorLoginRecord,
  TwoFactorLoginRepository,
  TwoFactorRepository,
  TwoFactorTrustRecord,
  TwoFactorTrustRepository,
} from '../types.js';
import type { SessionScope } from './session.js';
import { MongoRepository } from './repository.js';
import { guarded, type DuplicateFields } from './errors.js';

/**
 * Two-factor state in three collections. Every single-use step is one conditional updateOne
 * (see codes.ts: the test engine does not apply findOneAndUpdate filters atomically).
 */

/**
 * Recovery codes are kept as the keys of an object (hex hashes are safe field names): spending
 * one is a conditional `$unset`, which every engine we test on applies atomically ($pull is not
 * supported by the test engine).
 */
type EnrolmentDocument = Omit<TwoFactorEnrolmentRecord, 'userId' | 'recoveryCodeHashes'> & { _id: string; recoveryCodes: Record<string, 1> };
/** `purgeAt` is a Date copy of `expiresAt`, for the TTL index; queries use the number. */
type LoginDocument = Omit<TwoFactorLoginRecord, 'id'> & { _id: string; purgeAt: Date };
type TrustDocument = Omit<TwoFactorTrustRecord, 'id'> & { _id: string; purgeAt: Date };

export const TWO_FACTOR = 'two_factor';
export const TWO_FACTOR_LOGINS = 'two_factor_logins';
export const TWO_FACTOR_TRUSTS = 'two_factor_trusts';

export const twoFactorIndexes: IndexDescription[] = [{ key: { methodId: 1 }, name: 'methodId_1' }];
export const twoFactorLoginIndexes: IndexDescription[] = [
  // Serves deleteByUser.
  { key: { userId: 1 }, name: 'userId_1' },
  { key: { purgeAt: 1 }, name: 'purgeAt_ttl', expireAfterSeconds: 0 },
];
export const twoFactorTrustIndexes: IndexDescription[] = [
  { key: { userId: 1 }, name: 'userId_1' },
  { key: { purgeAt: 1 }, name: 'purgeAt_ttl', expireAfterSeconds: 0 },
];

const BY_USER: DuplicateFields = { _id: 'userId' };
const BY_ID: DuplicateFields = { _id: 'id' };

export class MongoTwoFactor extends MongoRepository<EnrolmentDocument> implements TwoFactorRepository {
  constructor(db: Db, scope?: SessionScope) {
    super(db, TWO_FACTOR, scope);
  }

  async insert({ userId, recoveryCodeHashes, ...rest }: TwoFactorEnrolmentRecord): Promise<void> {
    const recoveryCodes = Object.fromEntries(recoveryCodeHashes.map((hash): [string, 1] => [hash, 1]));
    await guarded(() => this.collection.insertOne({ _id: userId, ...rest, recoveryCodes }, this.session()), BY_USER);
  }

  async findByUser(userId: string): Promise<TwoFactorEnrolmentRecord | null> {
    const document = await guarded(() => this.collection.findOne({ _id: userId }, this.session()));
    if (!document) return null;
    const { _id, recoveryCodes, ...rest } = document;
    return { userId: _id, ...rest, recoveryCodeHashes: Object.keys(recoveryCodes) };
  }

  async claimStep(userId: string, methodId: string, step: number): Promise<boolean> {
    const result = await guarded(() =>
      this.collection.updateOne({ _id: userId, methodId, lastUsedStep: { $lt: step } }, { $set: { lastUsedStep: step } }, this.session()),
    );
    return result.modifiedCount === 1;
  }

  async useRecoveryCode(userId: string, methodId: string, codeHash: string): Promise<boolean> {
    if (!/^[0-9a-f]{1,128}$/.test(codeHash)) return false;
    const field = `recoveryCodes.${codeHash}`;
    const result = await guarded(() =>
      this.collection.updateOne({ _id: userId, methodId, [field]: { $exists: true } }, { $unset: { [field]: '' } }, this.session()),
    );
    return result.modifiedCount === 1;
  }

  async delete(userId: string): Promise<boolean> {
    const result = await guarded(() => this.collection.deleteOne({ _id: userId }, this.session()));
    return result.deletedCount > 0;
  }
}

function loginOf({ _id, purgeAt: _purgeAt, ...rest }: LoginDocument): TwoFactorLoginRecord {
  return { id: _id, ...rest };
}

export class MongoTwoFactorLogins extends MongoRepository<LoginDocument> implements TwoFactorLoginRepository {
  constructor(db: Db, scope?: SessionScope) {
    super(db, TWO_FACTOR_LOGINS, scope);
  }

  async insert({ id, ...rest }: TwoFactorLoginRecord): Promise<void> {
    await guarded(() => this.collection.insertOne({ _id: id, ...rest, purgeAt: new Date(rest.expiresAt) }, this.session()), BY_ID);
  }

  async findById(id: string, now: number): Promise<TwoFactorLoginRecord | null> {
    const document = await guarded(() => this.collection.findOne({ _id: id, expiresAt: { $gt: now } }, this.session()));
    return document ? loginOf(document) : null;
  }

  async reserveAttempt(id: string, answerHash: string, now: number, maxAttempts: number): Promise<TwoFactorLoginRecord | null> {
    const result = await guarded(() =>
      this.collection.updateOne(
        { _id: id, status: 'pending', expiresAt: { $gt: now }, attempts: { $lt: maxAttempts }, lastWrongHash: { $ne: answerHash } },
        { $inc: { attempts: 1 }, $set: { lastWrongHash: answerHash } },
        this.session(),
      ),
    );
    if (result.modifiedCount !== 1) return null;
    const document = await guarded(() => this.collection.findOne({ _id: id }, this.session()));
    return document ? loginOf(document) : null;
  }

  async complete(id: string, now: number): Promise<boolean> {
    const result = await guarded(() => this.collection.updateOne({ _id: id, status: 'pending', expiresAt: { $gt: now } }, { $set: { status: 'used' } }, this.session()));
    return result.modifiedCount === 1;
  }

  async deleteByUser(userId: string): Promise<number> {
    const result = await guarded(() => this.collection.deleteMany({ userId }, this.session()));
    return result.deletedCount;
  }
}

export class MongoTwoFactorTrusts extends MongoRepository<TrustDocument> implements TwoFactorTrustRepository {
  constructor(db: Db, scope?: SessionScope) {
    super(db, TWO_FACTOR_TRUSTS, scope);
  }

  async insert({ id, ...rest }: TwoFactorTrustRecord): Promise<void> {
    await guarded(() => this.collection.insertOne({ _id: id, ...rest, purgeAt: new Date(rest.expiresAt) }, this.session()), BY_ID);
  }

  async findById(id: string, now: number): Promise<TwoFactorTrustRecord | null> {
    const document = await guarded(() => this.collection.findOne({ _id: id, expiresAt: { $gt: now } }, this.session()));
    if (!document) return null;
    const { _id, purgeAt: _purgeAt, ...rest } = document;
    return { id: _id, ...rest };
  }

  async deleteByUser(userId: string): Promise<number> {
    const result = await guarded(() => this.collection.deleteMany({ userId }, this.session()));
    return result.deletedCount;
  }
}
