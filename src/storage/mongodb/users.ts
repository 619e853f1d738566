import { randomUUID } from 'node:crypto';
import type { Db, Filter, IndexDescription } from 'mongodb';
import type { UserRecord, UserRepository, UserRevision } from '../types.js';
import type { SessionScope } from './session.js';
import { MongoRepository } from './repository.js';
import { guarded, type DuplicateFields } from './errors.js';

/** `revision` is renewed by every write (see UserRepository.findWithRevision); documents written before it existed lack it. */
type UserDocument = Omit<UserRecord, 'id'> & { _id: string; revision?: string };

export const USERS = 'users';

export const userIndexes: IndexDescription[] = [
  { key: { emailNormalized: 1 }, name: 'emailNormalized_1', unique: true },
  // Only users with a username take part: any number may have none.
  { key: { usernameNormalized: 1 }, name: 'usernameNormalized_1', unique: true, partialFilterExpression: { usernameNormalized: { $exists: true } } },
  // Serves list(): its order is insertion order, with the id as a tie-breaker.
  { key: { insertInstant: 1, _id: 1 }, name: 'insertInstant_1__id_1' },
];

const DUPLICATES: DuplicateFields = { _id: 'id', emailNormalized: 'email', usernameNormalized: 'username' };

/** A stored user with a new revision. */
function toDocument({ id, ...rest }: UserRecord): UserDocument {
  return { _id: id, ...rest, revision: randomUUID() };
}

function toRecord({ _id, revision: _revision, ...rest }: UserDocument): UserRecord {
  return { id: _id, ...rest };
}

/** The user with this id while its revision is `revision` (a document without one, for null). */
function unchangedFilter(id: string, revision: UserRevision): Filter<UserDocument> {
  return { _id: id, revision: revision === null ? { $exists: false } : revision };
}

/** Users, keyed by their id; the normalised email is unique through an index. */
export class MongoUsers extends MongoRepository<UserDocument> implements UserRepository {
  constructor(db: Db, scope?: SessionScope) {
    super(db, USERS, scope);
  }

  async insert(user: UserRecord): Promise<void> {
    await guarded(() => this.collection.insertOne(toDocument(user), this.session()), DUPLICATES);
  }

  async findWithRevision(id: string): Promise<{ user: UserRecord; revision: UserRevision } | null> {
    const document = await guarded(() => this.collection.findOne({ _id: id }, this.session()));
    return document ? { user: toRecord(document), revision: document.revision ?? null } : null;
  }

  async findById(id: string): Promise<UserRecord | null> {
    return this.#findOne({ _id: id });
  }

  async findByEmail(emailNormalized: string): Promise<UserRecord | null> {
    return this.#findOne({ emailNormalized });
  }

  async findByUsername(usernameNormalized: string): Promise<UserRecord | null> {
    return this.#findOne({ usernameNormalized });
  }

  async list({ limit, offset }: { limit: number; offset: number }): Promise<UserRecord[]> {
    if (limit <= 0) return [];
    const documents = await guarded(() =>
      this.collection.find({}, this.session()).sort({ insertInstant: 1, _id: 1 }).skip(offset).limit(limit).toArray(),
    );
    return documents.map(toRecord);
  }

  /** One conditional replaceOne: the database decides which of concurrent writers of one revision wins. */
  async replaceIfUnchanged(user: UserRecord, revision: UserRevision): Promise<boolean> {
    const { _id, ...replacement } = toDocument(user);
    const result = await guarded(() => this.collection.replaceOne(unchangedFilter(_id, revision), replacement, this.session()), DUPLICATES);
    return result.matchedCount > 0;
  }

  async recordLogin(id: string, clientId: string | null, now: number): Promise<UserRecord | null> {
    const document = await guarded(() =>
      this.collection.findOneAndUpdate(
        { _id: id },
        { $set: { lastLoginInstant: now, revision: randomUUID(), ...(clientId === null ? {} : { 'registrations.$[registration].lastLoginInstant': now }) } },
        { ...this.session(), returnDocument: 'after', ...(clientId === null ? {} : { arrayFilters: [{ 'registration.applicationId': clientId }] }) },
      ),
    );
    return document ? toRecord(document) : null;
  }

  async delete(id: string): Promise<boolean> {
    const result = await guarded(() => this.collection.deleteOne({ _id: id }, this.session()));
    return result.deletedCount > 0;
  }

  async #findOne(filter: Partial<Pick<UserDocument, '_id' | 'emailNormalized' | 'usernameNormalized'>>): Promise<UserRecord | null> {
    const document = await guarded(() => this.collection.findOne(filter, this.session()));
    return document ? toRecord(document) : null;
  }
}
