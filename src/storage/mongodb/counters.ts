import type { Collection, Db, IndexDescription } from 'mongodb';
import { DuplicateKeyError, type CounterRepository } from '../types.js';
import { guarded } from './errors.js';

interface CounterDocument {
  _id: string;
  count: number;
  expiresAt: Date;
}

export const COUNTERS = 'counters';

export const counterIndexes: IndexDescription[] = [{ key: { expiresAt: 1 }, name: 'expiresAt_ttl', expireAfterSeconds: 0 }];

/** Concurrent first increments of one key race on the insert; the losers go round again. */
const MAX_ROUNDS = 5;

/**
 * Fixed-window counters. A window past `expiresAt` counts as absent even before TTL removes it.
 *
 * Counters never join a transaction of the store's `atomically`, on purpose: a rate-limit try must
 * stay counted when the change it guarded is rolled back (else a failing request would hand its
 * try back), and the webhook event sequence is one document every event takes a number from, which
 * in a transaction would make all concurrent changes conflict on it. A number taken by a change that
 * is then rolled back is simply never used: sequences may have gaps.
 */
export class MongoCounters implements CounterRepository {
  readonly #collection: Collection<CounterDocument>;

  constructor(db: Db) {
    this.#collection = db.collection<CounterDocument>(COUNTERS);
  }

  async increment(key: string, expiresAt: number): Promise<number> {
    for (let round = 1; ; round += 1) {
      const now = new Date();
      const live = await this.#incrementLive(key, now);
      if (live !== null) return live;
      try {
        await this.#startWindow(key, now, new Date(expiresAt));
        return 1;
      } catch (error) {
        if (!(error instanceof DuplicateKeyError) || round >= MAX_ROUNDS) throw error;
      }
    }
  }

  async decrement(key: string, now: number): Promise<void> {
    await guarded(() => this.#collection.updateOne({ _id: key, expiresAt: { $gt: new Date(now) }, count: { $gt: 0 } }, { $inc: { count: -1 } }));
  }

  async get(key: string, now: number): Promise<number> {
    const document = await guarded(() => this.#collection.findOne({ _id: key, expiresAt: { $gt: new Date(now) } }));
    return document?.count ?? 0;
  }

  /**
   * Counts on by `_id` alone, whatever `expiresAt` says (a lagging TTL monitor must not restart a
   * sequence), and moves `expiresAt` on; the first number is an insert that may collide with a
   * concurrent first, which then counts on.
   */
  async sequence(key: string, keepUntil: number): Promise<number> {
    const expiresAt = new Date(keepUntil);
    for (let round = 1; ; round += 1) {
      const document = await guarded(() => this.#collection.findOneAndUpdate({ _id: key }, { $inc: { count: 1 }, $set: { expiresAt } }, { returnDocument: 'after' }));
      if (document) return document.count;
      try {
        await guarded(() => this.#collection.insertOne({ _id: key, count: 1, expiresAt }));
        return 1;
      } catch (error) {
        if (!(error instanceof DuplicateKeyError) || round >= MAX_ROUNDS) throw error;
      }
    }
  }

  async #incrementLive(key: string, now: Date): Promise<number | null> {
    const document = await guarded(() =>
      this.#collection.findOneAndUpdate(
        { _id: key, expiresAt: { $gt: now } },
        { $inc: { count: 1 } },
        { returnDocument: 'after' },
      ),
    );
    return document?.count ?? null;
  }

  /**
   * Resets an expired window or creates a missing one. If another request started the
   * window meanwhile, the filter misses, the upsert collides on `_id`, and the caller
   * retries as an increment.
   */
  async #startWindow(key: string, now: Date, expiresAt: Date): Promise<void> {
    await guarded(() =>
      this.#collection.updateOne(
        { _id: key, expiresAt: { $lte: now } },
        { $set: { count: 1, expiresAt } },
        { upsert: true },
      ),
    );
  }
}
