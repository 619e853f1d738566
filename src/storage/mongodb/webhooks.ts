import type { Db, IndexDescription } from 'mongodb';
import type { WebhookDeliveryRecord, WebhookDeliveryRepository } from '../types.js';
import type { SessionScope } from './session.js';
import { MongoRepository } from './repository.js';
import { guarded } from './errors.js';

/**
 * A delivery as stored; `purgeAt` is its `retainUntil` as a Date, for the TTL index. Set when the
 * delivery is written, so no later update needs to know it (`retainUntil` already lies past the
 * last try, `maxAgeHours`, plus `retainDays` of listing); a replay sets both anew.
 */
type DeliveryDocument = Omit<WebhookDeliveryRecord, 'id'> & {
  _id: string;
  purgeAt: Date;
  /** Set on a delivery a later one of its key found waiting behind it: settling it makes them due (see lease). */
  waiters?: boolean;
};

export const WEBHOOK_DELIVERIES = 'webhook_deliveries';

export const webhookDeliveryIndexes: IndexDescription[] = [
  { key: { status: 1, sequence: 1 }, name: 'status_1_sequence_1' },
  // What a lease reads: the due ones only, however many wait for a retry.
  { key: { status: 1, nextAttemptAt: 1, sequence: 1 }, name: 'due_1' },
  { key: { webhookId: 1, orderKey: 1, status: 1, sequence: 1 }, name: 'order_1' },
  { key: { eventId: 1 }, name: 'eventId_1' },
  { key: { purgeAt: 1 }, name: 'purgeAt_ttl', expireAfterSeconds: 0 },
];

function toRecord({ _id, purgeAt: _purge, waiters: _waiters, ...rest }: DeliveryDocument): WebhookDeliveryRecord {
  return { id: _id, ...rest };
}

/** How many due candidates one lease call reads per delivery it may lease (some are behind an older one of their key). */
const CANDIDATES_PER_SLOT = 4;

/** How many times one lease call reads candidates again after pushing back some that waited behind others. */
const LEASE_PASSES = 4;

/** Webhook deliveries in MongoDB: shared by every instance, leased with conditional updates. */
export class MongoWebhookDeliveries extends MongoRepository<DeliveryDocument> implements WebhookDeliveryRepository {
  constructor(db: Db, scope?: SessionScope) {
    super(db, WEBHOOK_DELIVERIES, scope);
  }

  async insertMany(records: readonly WebhookDeliveryRecord[]): Promise<void> {
    if (records.length === 0) return;
    await guarded(() => this.collection.insertMany(records.map(({ id, ...rest }) => ({ _id: id, ...rest, purgeAt: new Date(rest.retainUntil) })), this.session()));
  }

  /**
   * Leases due deliveries, earliest due first, each the oldest pending one of its key. The due
   * ones found behind an older pending one of their key are pushed back, in one update per key,
   * to when that one may be settled (its next try, or the end of its lease), and it is marked as
   * having waiters, which its settling makes due again (see settle). So deliveries waiting behind
   * a head that waits for a retry stop being candidates, and cannot fill a lease's candidates
   * while other keys' deliveries are due: when a pass pushed some back and slots are left, the
   * lease reads again.
   */
  async lease(now: number, owner: string, leaseMs: number, limit: number, skip: readonly string[] = []): Promise<WebhookDeliveryRecord[]> {
    const leased: WebhookDeliveryRecord[] = [];
    for (let pass = 0; pass < LEASE_PASSES && leased.length < limit; pass += 1) {
      const candidates = await guarded(() =>
        this.collection
          .find({ status: 'pending', nextAttemptAt: { $lte: now }, leaseUntil: { $lte: now }, ...(skip.length > 0 ? { webhookId: { $nin: [...skip] } } : {}) }, this.session())
          .sort({ nextAttemptAt: 1, sequence: 1 })
          .limit((limit - leased.length) * CANDIDATES_PER_SLOT)
          .toArray(),
      );
      let pushedBack = false;
      const seen = new Set<string>();
      for (const candidate of candidates) {
        if (leased.length >= limit) break;
        const key = `${candidate.webhookId}\n${candidate.orderKey}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const head = await guarded(() =>
          this.collection.findOne(
            { webhookId: candidate.webhookId, orderKey: candidate.orderKey, status: 'pending', sequence: { $lt: candidate.sequence } },
            { ...this.session(), sort: { sequence: 1 }, projection: { _id: 1, sequence: 1, nextAttemptAt: 1, leaseUntil: 1 } },
          ),
        );
        if (head) {
          await this.#waitBehind(candidate, head);
          pushedBack = true;
          continue;
        }
        const taken = await guarded(() =>
          this.collection.findOneAndUpdate(
            { _id: candidate._id, status: 'pending', leaseUntil: { $lte: now } },
            { $set: { leaseOwner: owner, leaseUntil: now + leaseMs } },
            { ...this.session(), returnDocument: 'after' },
          ),
        );
        if (taken) leased.push(toRecord(taken));
      }
      // Every candidate was looked at, and none was in the way of others: nothing more is due.
      if (!pushedBack) break;
    }
    return leased;
  }

  /**
   * The deliveries of `of`'s key after `head` are not due again before `head` may be settled;
   * `head` will say when it is (see settle). Pushed back first and `head` marked after, only while
   * still pending: a `head` settled in between did not see the mark, so they are made due here.
   */
  async #waitBehind(of: Pick<DeliveryDocument, 'webhookId' | 'orderKey'>, head: Pick<DeliveryDocument, '_id' | 'sequence' | 'nextAttemptAt' | 'leaseUntil'>): Promise<void> {
    const until = Math.max(head.nextAttemptAt, head.leaseUntil);
    await this.#setDue(of, head.sequence, until, { $lt: until });
    const marked = await guarded(() => this.collection.updateOne({ _id: head._id, status: 'pending' }, { $set: { waiters: true } }, this.session()));
    if (marked.matchedCount > 0) return;
    const now = Date.now();
    await this.#setDue(of, head.sequence, now, { $gt: now });
  }

  /** Sets `nextAttemptAt` of the pending deliveries of a key after `sequence` whose own matches `when`. */
  async #setDue(key: Pick<DeliveryDocument, 'webhookId' | 'orderKey'>, sequence: number, nextAttemptAt: number, when: { $lt: number } | { $gt: number }): Promise<void> {
    await guarded(() =>
      this.collection.updateMany(
        { webhookId: key.webhookId, orderKey: key.orderKey, status: 'pending', sequence: { $gt: sequence }, nextAttemptAt: when },
        { $set: { nextAttemptAt } },
        this.session(),
      ),
    );
  }

  async settle(id: string, owner: string, update: Partial<Omit<WebhookDeliveryRecord, 'id'>>): Promise<boolean> {
    const settled = await guarded(() =>
      this.collection.findOneAndUpdate({ _id: id, leaseOwner: owner }, { $set: update }, { ...this.session(), returnDocument: 'after', projection: { webhookId: 1, orderKey: 1, sequence: 1, status: 1, waiters: 1 } }),
    );
    if (!settled) return false;
    if (settled.status !== 'pending' && settled.waiters) {
      // Those that waited behind it (see lease) are due from the moment it was settled.
      const at = update.settledAt ?? Date.now();
      await this.#setDue(settled, settled.sequence, at, { $gt: at });
    }
    return true;
  }

  async list(filter: { status?: WebhookDeliveryRecord['status']; limit: number }): Promise<WebhookDeliveryRecord[]> {
    const documents = await guarded(() =>
      this.collection
        .find(filter.status ? { status: filter.status } : {}, this.session())
        .sort({ sequence: -1 })
        .limit(filter.limit)
        .toArray(),
    );
    return documents.map(toRecord);
  }

  async requeueEvent(eventId: string, now: number, retainUntil: number): Promise<number> {
    const result = await guarded(() =>
      this.collection.updateMany(
        { eventId },
        { $set: { status: 'pending', attempts: 0, nextAttemptAt: now, leaseOwner: null, leaseUntil: 0, settledAt: null, retainUntil, purgeAt: new Date(retainUntil) } },
        this.session(),
      ),
    );
    return result.matchedCount;
  }
}
