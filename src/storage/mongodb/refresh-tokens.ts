import type { Db, IndexDescription } from 'mongodb';
import type { RefreshTokenRecord, RefreshTokenRepository } from '../types.js';
import type { SessionScope } from './session.js';
import { MongoRepository } from './repository.js';
import { guarded, type DuplicateFields } from './errors.js';

/** `purgeAt` is a Date copy of `expiresAt`, for the TTL index; queries use the number. */
type RefreshTokenDocument = Omit<RefreshTokenRecord, 'id'> & { _id: string; purgeAt: Date };

export const REFRESH_TOKENS = 'refresh_tokens';

export const refreshTokenIndexes: IndexDescription[] = [
  { key: { tokenHash: 1 }, name: 'tokenHash_1', unique: true },
  { key: { userId: 1 }, name: 'userId_1' },
  { key: { chainId: 1 }, name: 'chainId_1' },
  // Serves revocation by application, and by application and user (DELETE /api/jwt/refresh).
  { key: { applicationId: 1, userId: 1 }, name: 'applicationId_1_userId_1' },
  { key: { purgeAt: 1 }, name: 'purgeAt_ttl', expireAfterSeconds: 0 },
];

const DUPLICATES: DuplicateFields = { _id: 'id', tokenHash: 'token' };

function toRecord({ _id, purgeAt: _purgeAt, ...rest }: RefreshTokenDocument): RefreshTokenRecord {
  return { id: _id, ...rest };
}

/** The REST API's refresh tokens, by hash only. */
export class MongoRefreshTokens extends MongoRepository<RefreshTokenDocument> implements RefreshTokenRepository {
  constructor(db: Db, scope?: SessionScope) {
    super(db, REFRESH_TOKENS, scope);
  }

  async insert({ id, ...rest }: RefreshTokenRecord): Promise<void> {
    await guarded(() => this.collection.insertOne({ _id: id, ...rest, purgeAt: new Date(rest.expiresAt) }, this.session()), DUPLICATES);
  }

  /** A conditional updateOne is the one atomic step (see codes.ts); the winner then reads its record. */
  async consume(tokenHash: string, now: number): Promise<RefreshTokenRecord | null> {
    const result = await guarded(() =>
      this.collection.updateOne(
        { tokenHash, consumedAt: { $exists: false }, expiresAt: { $gt: now } },
        { $set: { consumedAt: now } },
        this.session(),
      ),
    );
    if (result.modifiedCount !== 1) return null;
    const document = await guarded(() => this.collection.findOne({ tokenHash }, this.session()));
    return document ? toRecord(document) : null;
  }

  async findByHash(tokenHash: string): Promise<RefreshTokenRecord | null> {
    const document = await guarded(() => this.collection.findOne({ tokenHash }, this.session()));
    return document ? toRecord(document) : null;
  }

  /** A token stored before chains has none: its chain is itself. */
  async deleteChain(chainId: string): Promise<number> {
    const result = await guarded(() => this.collection.deleteMany({ $or: [{ chainId }, { _id: chainId, chainId: { $exists: false } }] }, this.session()));
    return result.deletedCount;
  }

  async deleteByUser(userId: string): Promise<number> {
    const result = await guarded(() => this.collection.deleteMany({ userId }, this.session()));
    return result.deletedCount;
  }

  /** Served by the userId index; a user has few tokens, so the sort is done on them alone. */
  async listByUser(userId: string, now: number): Promise<RefreshTokenRecord[]> {
    const documents = await guarded(() => this.collection.find({ userId, consumedAt: { $exists: false }, expiresAt: { $gt: now } }, this.session()).sort({ insertInstant: 1, _id: 1 }).toArray());
    return documents.map(toRecord);
  }

  async deleteByHash(tokenHash: string): Promise<boolean> {
    const result = await guarded(() => this.collection.deleteOne({ tokenHash }, this.session()));
    return result.deletedCount > 0;
  }

  async deleteByApplication(applicationId: string, userId?: string): Promise<number> {
    const result = await guarded(() => this.collection.deleteMany(userId === undefined ? { applicationId } : { applicationId, userId }, this.session()));
    return result.deletedCount;
  }
}
