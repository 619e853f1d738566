import type { Db, IndexDescription } from 'mongodb';
import type { ApiKeyRecord, ApiKeyRepository } from '../types.js';
import type { SessionScope } from './session.js';
import { MongoRepository } from './repository.js';
import { guarded, type DuplicateFields } from './errors.js';

type ApiKeyDocument = Omit<ApiKeyRecord, 'id'> & { _id: string };

export const API_KEYS = 'api_keys';

export const apiKeyIndexes: IndexDescription[] = [{ key: { keyHash: 1 }, name: 'keyHash_1', unique: true }];

const DUPLICATES: DuplicateFields = { _id: 'id', keyHash: 'key' };

function toRecord({ _id, ...rest }: ApiKeyDocument): ApiKeyRecord {
  return { id: _id, ...rest };
}

/** API keys, stored by the hash of the key only. */
export class MongoApiKeys extends MongoRepository<ApiKeyDocument> implements ApiKeyRepository {
  constructor(db: Db, scope?: SessionScope) {
    super(db, API_KEYS, scope);
  }

  async insert({ id, ...rest }: ApiKeyRecord): Promise<void> {
    await guarded(() => this.collection.insertOne({ _id: id, ...rest }, this.session()), DUPLICATES);
  }

  async findByHash(keyHash: string): Promise<ApiKeyRecord | null> {
    const document = await guarded(() => this.collection.findOne({ keyHash }, this.session()));
    return document ? toRecord(document) : null;
  }

  async list(): Promise<ApiKeyRecord[]> {
    const documents = await guarded(() => this.collection.find({}, this.session()).sort({ insertInstant: 1, _id: 1 }).toArray());
    return documents.map(toRecord);
  }

  async delete(id: string): Promise<boolean> {
    const result = await guarded(() => this.collection.deleteOne({ _id: id }, this.session()));
    return result.deletedCount > 0;
  }
}
