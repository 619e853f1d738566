import type { Db, IndexDescription } from 'mongodb';
import type { WebhookDeliveryRecord, WebhookDeliveryRepository } from '../types.js';
import type { SessionScope } from './session.js';
import { MongoRepository } from './repository.js';
import { guarded } from './errors.js';

/**
 * A delivery as stored; `purgeAt` is its `retainUntil` as a Date, for the TTL index. Set when the
 * delivery is written, so no later update needs to know it (`retainUntil` already lies past the
 * last try, `maxAgeHours`, plus `retainDays` of listing).
 */
type DeliveryDocument = Omit<WebhookDeliveryRecord, 'id'> & { _id: string; purgeAt: Date };

export const WEBHOOK_DELIVERIES = 'webhook_deliveries';

export const webhookDeliveryIndexes: IndexDescription[] = [
  { key: { status: 1, sequence: 1 }, name: 'status_1_sequence_1' },
  { key: { webhookId: 1, orderKey: 1, status: 1, sequence: 1 }, name: 'order_1' },
  { key: { eventId: 1 }, name: 'eventId_1' },
  { key: { purgeAt: 1 }, name: 'purgeAt_ttl', expireAfterSeconds: 0 },
];

function toRecord({ _id, purgeAt: _purge, ...rest }: DeliveryDocument): WebhookDeliveryRecord {
  return { id: _id, ...rest };
}

/** How many due candidates one lease call reads per delivery it may lease (some are behind an older one of their key). */
const CANDIDATES_PER_SLOT = 4;

/** Webhook deliveries in MongoDB: shared by every instance, leased with conditional updates. */
export class MongoWebhookDeliveries extends MongoRepository<DeliveryDocument> implements WebhookDeliveryRepository {
  constructor(db: Db, scope?: SessionScope) {
    super(db, WEBHOOK_DELIVERIES, scope);
  }

  async insertMany(records: readonly WebhookDeliveryRecord[]): Promise<void> {
    if (records.length === 0) return;
    await guarded(() => this.collection.insertMany(records.map(({ id, ...rest }) => ({ _id: id, ...rest, purgeAt: new Date(rest.retainUntil) })), this.session()));
  }

  async lease(now: number, owner: string, leaseMs: number, limit: number, skip: readonly string[] = []): Promise<WebhookDeliveryRecord[]> {
    const candidates = await guarded(() =>
      this.collection
        .find({ status: 'pending', nextAttemptAt: { $lte: now }, leaseUntil: { $lte: now }, ...(skip.length > 0 ? { webhookId: { $nin: [...skip] } } : {}) }, this.session())
        .sort({ sequence: 1 })
        .limit(limit * CANDIDATES_PER_SLOT)
        .toArray(),
    );
    const leased: WebhookDeliveryRecord[] = [];
    const seen = new Set<string>();
    for (const candidate of candidates) {
      if (leased.length >= limit) break;
      const key = `${candidate.webhookId}\n${candidate.orderKey}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const older = await guarded(() =>
        this.collection.findOne({ webhookId: candidate.webhookId, orderKey: candidate.orderKey, status: 'pending', sequence: { $lt: candidate.sequence } }, { ...this.session(), projection: { _id: 1 } }),
      );
      if (older) continue;
      const taken = await guarded(() =>
        this.collection.findOneAndUpdate(
          { _id: candidate._id, status: 'pending', leaseUntil: { $lte: now } },
          { $set: { leaseOwner: owner, leaseUntil: now + leaseMs } },
          { ...this.session(), returnDocument: 'after' },
        ),
      );
      if (taken) leased.push(toRecord(taken));
    }
    return leased;
  }

  async settle(id: string, owner: string, update: Partial<Omit<WebhookDeliveryRecord, 'id'>>): Promise<boolean> {
    const result = await guarded(() => this.collection.updateOne({ _id: id, leaseOwner: owner }, { $set: update }, this.session()));
    return result.matchedCount > 0;
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

  async requeueEvent(eventId: string, now: number): Promise<number> {
    const result = await guarded(() =>
      this.collection.updateMany({ eventId }, { $set: { status: 'pending', attempts: 0, nextAttemptAt: now, leaseOwner: null, leaseUntil: 0, settledAt: null } }, this.session()),
    );
    return result.matchedCount;
  }
}
