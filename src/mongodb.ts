/**
 * oidc-magic-link/mongodb: node-oidc-provider's adapter on MongoDB, usable on its own, and the
 * plugin's store (codes and counters) on the same database.
 */
import type { Db } from 'mongodb';
import type { Adapter } from 'oidc-provider';
import { MongoOidcAdapter, OIDC_MODELS, oidcCollectionName, oidcIndexes } from './storage/mongodb/oidc.js';
import { CODES, MongoCodes, codeIndexes } from './storage/mongodb/codes.js';
import { COUNTERS, MongoCounters, counterIndexes } from './storage/mongodb/counters.js';
import { guarded } from './storage/mongodb/errors.js';
import type { MagicLinkStore } from './plugin/options.js';

/**
 * node-oidc-provider's adapter for every model (Session, Interaction, AccessToken, Grant …), one
 * collection `oidc_<Model>` each: `expiresAt` with a TTL index (reads check expiry themselves, as
 * TTL deletion lags), unique `payload.uid` and `payload.userCode`, `payload.grantId` indexed for
 * `revokeByGrantId`, and an atomic `consume`.
 *
 * ```ts
 * await MongoAdapter.createIndexes(db);            // once at start (idempotent)
 * new Provider(issuer, { adapter: MongoAdapter.factory(db), … });
 * ```
 */
export class MongoAdapter extends MongoOidcAdapter implements Adapter {
  constructor(name: string, db: Db) {
    super(name, db);
  }

  /** The `adapter` option of node-oidc-provider: one adapter per model name, all on `db`. */
  static factory(db: Db): (name: string) => Adapter {
    const adapters = new Map<string, MongoAdapter>();
    return (name: string) => {
      let adapter = adapters.get(name);
      if (!adapter) adapters.set(name, (adapter = new MongoAdapter(name, db)));
      return adapter;
    };
  }

  /** Creates the indexes of every model's collection; idempotent. */
  static async createIndexes(db: Db): Promise<void> {
    await guarded(() => Promise.all(OIDC_MODELS.map((model) => db.collection(oidcCollectionName(model)).createIndexes(oidcIndexes(model)))));
  }
}

/** The plugin's `store` on MongoDB: collections `passwordless_codes` and `counters`. Call `createIndexes()` once at start. */
export function mongoMagicLinkStore(db: Db): MagicLinkStore & { createIndexes(): Promise<void> } {
  return {
    codes: new MongoCodes(db),
    counters: new MongoCounters(db),
    async createIndexes() {
      await guarded(() => Promise.all([db.collection(CODES).createIndexes(codeIndexes), db.collection(COUNTERS).createIndexes(counterIndexes)]));
    },
  };
}
