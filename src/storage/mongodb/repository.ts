import type { Collection, Db, Document } from 'mongodb';
import { NO_TRANSACTION, type SessionScope } from './session.js';

/**
 * What every MongoDB repository stands on: its collection, and the store's session scope, which
 * its calls join while `MongoStore.atomically` runs a transaction. Every collection call spreads
 * {@link session} into its options.
 */
export abstract class MongoRepository<D extends Document> {
  protected readonly collection: Collection<D>;
  readonly #scope: SessionScope;

  constructor(db: Db, name: string, scope: SessionScope = NO_TRANSACTION) {
    this.collection = db.collection<D>(name);
    this.#scope = scope;
  }

  /** `{ session }` inside the store's transaction, `{}` otherwise. */
  protected session(): ReturnType<SessionScope['options']> {
    return this.#scope.options();
  }
}
