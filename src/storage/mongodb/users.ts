import type { Collection, Db, IndexDescription } from 'mongodb';
import type { UserRecord, UserRepository } from '../types.js';
import { guarded, type DuplicateFields } from './errors.js';

type UserDocument = Omit<UserRecord, 'id'> & { _id: string };

export const USERS = 'users';

export const userIndexes: IndexDescription[] = [
  { key: { emailNormalized: 1 }, name: 'emailNormalized_1', unique: true },
  // Serves list(): its order is insertion order, with the id as a tie-breaker.
  { key: { insertInstant: 1, _id: 1 }, name: 'insertInstant_1__id_1' },
];

const DUPLICATES: DuplicateFields = { _id: 'id', emailNormalized: 'email' };

function toDocument({ id, ...rest }: UserRecord): UserDocument {
  return { _id: id, ...rest };
}

function toRecord({ _id, ...rest }: UserDocument): UserRecord {
  return { id: _id, ...rest };
}

/** Users, keyed by their id; the normalised email is unique through an index. */
export class MongoUsers implements UserRepository {
  readonly #collection: Collection<UserDocument>;

  constructor(db: Db) {
    this.#collection = db.collection<UserDocument>(USERS);
  }

  async insert(user: UserRecord): Promise<void> {
    await guarded(() => this.#collection.insertOne(toDocument(user)), DUPLICATES);
  }

  async findById(id: string): Promise<UserRecord | null> {
    return this.#findOne({ _id: id });
  }

  async findByEmail(emailNormalized: string): Promise<UserRecord | null> {
    return this.#findOne({ emailNormalized });
  }

  async list({ limit, offset }: { limit: number; offset: number }): Promise<UserRecord[]> {
    if (limit <= 0) return [];
    const documents = await guarded(() =>
      this.#collection.find({}).sort({ insertInstant: 1, _id: 1 }).skip(offset).limit(limit).toArray(),
    );
    return documents.map(toRecord);
  }

  async replace(user: UserRecord): Promise<boolean> {
    const { _id, ...replacement } = toDocument(user);
    const result = await guarded(() => this.#collection.replaceOne({ _id }, replacement), DUPLICATES);
    return result.matchedCount > 0;
  }

  async recordLogin(id: string, clientId: string | null, now: number): Promise<UserRecord | null> {
    const document = await guarded(() =>
      this.#collection.findOneAndUpdate(
        { _id: id },
        { $set: { lastLoginInstant: now, ...(clientId === null ? {} : { 'registrations.$[registration].lastLoginInstant': now }) } },
        { returnDocument: 'after', ...(clientId === null ? {} : { arrayFilters: [{ 'registration.applicationId': clientId }] }) },
      ),
    );
    return document ? toRecord(document) : null;
  }

  async delete(id: string): Promise<boolean> {
    const result = await guarded(() => this.#collection.deleteOne({ _id: id }));
    return result.deletedCount > 0;
  }

  async #findOne(filter: Partial<Pick<UserDocument, '_id' | 'emailNormalized'>>): Promise<UserRecord | null> {
    const document = await guarded(() => this.#collection.findOne(filter));
    return document ? toRecord(document) : null;
  }
}
