import type { Db, Filter, IndexDescription } from 'mongodb';
import type { CodeExpectation, CodeRepository, PasswordlessCodeRecord } from '../types.js';
import type { SessionScope } from './session.js';
import { MongoRepository } from './repository.js';
import { guarded, type DuplicateFields } from './errors.js';

/**
 * A code record as stored. `purgeAt` is a Date copy of `retainUntil` because a TTL index
 * only acts on Date fields; the record keeps its numeric `retainUntil` for queries.
 */
type CodeDocument = Omit<PasswordlessCodeRecord, 'id'> & { _id: string; purgeAt: Date };

export const CODES = 'passwordless_codes';

export const codeIndexes: IndexDescription[] = [
  { key: { owner: 1, status: 1 }, name: 'owner_1_status_1' },
  { key: { userId: 1 }, name: 'userId_1' },
  { key: { interactionUid: 1, createdAt: -1 }, name: 'interactionUid_1_createdAt_-1' },
  { key: { purgeAt: 1 }, name: 'purgeAt_ttl', expireAfterSeconds: 0 },
];

const DUPLICATES: DuplicateFields = { _id: 'code' };

function toDocument({ id, ...rest }: PasswordlessCodeRecord): CodeDocument {
  return { _id: id, ...rest, purgeAt: new Date(rest.retainUntil) };
}

function toRecord({ _id, purgeAt: _purgeAt, ...rest }: CodeDocument): PasswordlessCodeRecord {
  return { id: _id, ...rest };
}

/** The filter that holds exactly when a record meets `expect` (mirrors `codeMeetsExpectation`). */
function expectationFilter(id: string, expect: CodeExpectation): Filter<CodeDocument> {
  const filter: Filter<CodeDocument> = { _id: id };
  if (expect.status !== undefined) filter.status = expect.status;
  if (expect.unexpiredAt !== undefined) filter.expiresAt = { $gt: expect.unexpiredAt };
  if (expect.shortHash !== undefined) filter.shortHash = expect.shortHash;
  if (expect.attemptsBelow !== undefined) filter.attempts = { $lt: expect.attemptsBelow };
  // An equality filter never matches a missing field, as the memory store's check requires.
  for (const [name, value] of Object.entries(expect.extraFields ?? {})) (filter as Record<string, unknown>)[`extra.${name}`] = value;
  return filter;
}

/** The filter for codes issued before `code`, in the order of `codeIsOlder`. */
function olderThan(code: Pick<CodeDocument, '_id' | 'sequence'>): Filter<CodeDocument> {
  return { $or: [{ sequence: { $lt: code.sequence } }, { sequence: code.sequence, _id: { $lt: code._id } }] };
}

/** The `$set` of a conditional update; a new `retainUntil` moves the purge date with it. */
function changesOf(set: Partial<Omit<PasswordlessCodeRecord, 'id'>>): Partial<CodeDocument> {
  const { id: _ignored, ...changes } = set as Partial<PasswordlessCodeRecord>;
  const update: Partial<CodeDocument> = { ...changes };
  if (changes.retainUntil !== undefined) update.purgeAt = new Date(changes.retainUntil);
  return update;
}

/** Passwordless codes keyed by the hash of their link code. */
export class MongoCodes extends MongoRepository<CodeDocument> implements CodeRepository {
  constructor(db: Db, scope?: SessionScope) {
    super(db, CODES, scope);
  }

  async insert(record: PasswordlessCodeRecord): Promise<void> {
    await guarded(() => this.collection.insertOne(toDocument(record), this.session()), DUPLICATES);
  }

  /**
   * Two steps, each atomic per document: read the newest active code, then supersede the active
   * codes strictly older than it. A code inserted in between is superseded when it is older than
   * the one read, and left alone when it is newer: its own issuer's call then supersedes the rest.
   * An owner has only a code or two active at a time, so the owner_1_status_1 index makes both
   * steps cheap (the sort is over those few).
   */
  async supersedeAllButNewest(owner: string): Promise<number> {
    const [newest] = await guarded(() =>
      this.collection
        .find({ owner, status: 'active' }, { ...this.session(), projection: { _id: 1, sequence: 1 } })
        .sort({ sequence: -1, _id: -1 })
        .limit(1)
        .toArray(),
    );
    if (!newest) return 0;
    const result = await guarded(() =>
      this.collection.updateMany(
        { owner, status: 'active', ...olderThan(newest) },
        { $set: { status: 'superseded' } },
        this.session(),
      ),
    );
    return result.modifiedCount;
  }

  async findById(id: string, now: number): Promise<PasswordlessCodeRecord | null> {
    const document = await guarded(() => this.collection.findOne({ _id: id, retainUntil: { $gt: now } }, this.session()));
    return document ? toRecord(document) : null;
  }

  async findLatestForInteraction(interactionUid: string, now: number): Promise<PasswordlessCodeRecord | null> {
    const [document] = await guarded(() =>
      this.collection
        .find({ interactionUid, retainUntil: { $gt: now } }, this.session())
        .sort({ createdAt: -1 })
        .limit(1)
        .toArray(),
    );
    return document ? toRecord(document) : null;
  }

  /**
   * The winner is decided by one conditional updateOne, atomic in the database; the record is
   * then read back. (A findOneAndUpdate would return the exact after-image in one round trip on
   * MongoDB, but the jongodb test engine does not apply its filter atomically, and redeeming at
   * most once is a rule we must be able to test there.) A field another update changed in
   * between shows its newer value.
   */
  async compareAndSet(
    id: string,
    expect: CodeExpectation,
    set: Partial<Omit<PasswordlessCodeRecord, 'id'>>,
  ): Promise<PasswordlessCodeRecord | null> {
    const changes = changesOf(set);
    const filter = expectationFilter(id, expect);
    const result = await guarded(() =>
      Object.keys(changes).length === 0
        ? this.collection.countDocuments(filter, { ...this.session(), limit: 1 }).then((matchedCount) => ({ matchedCount }))
        : this.collection.updateOne(filter, { $set: changes }, this.session()),
    );
    if (result.matchedCount === 0) return null;
    const document = await guarded(() => this.collection.findOne({ _id: id }, this.session()));
    return document ? toRecord(document) : null;
  }

  /**
   * The try is taken by one conditional updateOne (its filter holds the limit, atomically on every
   * engine we test on, unlike findOneAndUpdate's on jongodb); the record is then read back, so
   * under concurrent tries its count may already include later ones.
   */
  async reserveAttempt(id: string, maxAttempts: number, now: number): Promise<PasswordlessCodeRecord | null> {
    const filter = expectationFilter(id, { status: 'active', unexpiredAt: now, attemptsBelow: maxAttempts });
    const result = await guarded(() => this.collection.updateOne(filter, { $inc: { attempts: 1 } }, this.session()));
    if (result.modifiedCount !== 1) return null;
    const document = await guarded(() => this.collection.findOne({ _id: id }, this.session()));
    return document ? toRecord(document) : null;
  }

  async deleteByUser(userId: string): Promise<number> {
    const result = await guarded(() => this.collection.deleteMany({ userId }, this.session()));
    return result.deletedCount;
  }
}
