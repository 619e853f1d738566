import { expect } from 'chai';
import type { WebhookDeliveryRecord } from '../../../src/storage/types.js';
import { uniqueId, useStore, type StoreHarness } from './harness.js';

/** A pending delivery due now, kept an hour; `overrides` change any field. */
export function delivery(overrides: Partial<WebhookDeliveryRecord> = {}): WebhookDeliveryRecord {
  const now = Date.now();
  const eventId = overrides.eventId ?? uniqueId();
  const webhookId = overrides.webhookId ?? 'hook';
  return {
    id: `${eventId}:${webhookId}`,
    eventId,
    webhookId,
    type: 'user.create',
    orderKey: `user:${uniqueId()}`,
    sequence: 1,
    body: '{"event":{}}',
    status: 'pending',
    attempts: 0,
    createdAt: now,
    nextAttemptAt: now,
    leaseOwner: null,
    leaseUntil: 0,
    lastStatus: null,
    lastError: null,
    settledAt: null,
    retainUntil: now + 3_600_000,
    ...overrides,
  };
}

/** Webhook deliveries: leases one caller at a time, per-key order, settle by the lease holder only, replay. */
export function webhooksContract(harness: StoreHarness): void {
  describe('webhook deliveries', () => {
    const store = useStore(harness);
    const repo = () => store().webhookDeliveries;
    /** Each case has a webhook of its own, so cases never see each other's deliveries. */
    const hook = () => `hook-${uniqueId()}`;

    it('leases each due delivery to one of many concurrent callers, and not again until the lease ends', async () => {
      const webhookId = hook();
      const records = Array.from({ length: 6 }, (_, i) => delivery({ webhookId, sequence: 100 + i }));
      await repo().insertMany(records);
      const now = Date.now();
      const leases = await Promise.all(Array.from({ length: 5 }, (_, i) => repo().lease(now, `owner-${i}`, 60_000, 1000)));
      const mine = leases.flat().filter((d) => d.webhookId === webhookId);
      expect(mine.map((d) => d.id).sort()).to.deep.equal(records.map((r) => r.id).sort());
      expect(new Set(mine.map((d) => d.id)).size, 'no delivery leased twice').to.equal(6);
      expect((await repo().lease(now + 1000, 'late', 60_000, 100)).filter((d) => d.webhookId === webhookId)).to.deep.equal([]);
      const afterLease = (await repo().lease(now + 61_000, 'next', 60_000, 100)).filter((d) => d.webhookId === webhookId);
      expect(afterLease, 'an abandoned lease runs out').to.have.length(6);
    });

    it('keeps one key in order: a later delivery waits while an earlier one is pending, due or not', async () => {
      const webhookId = hook();
      const orderKey = `user:${uniqueId()}`;
      const now = Date.now();
      const first = delivery({ webhookId, orderKey, sequence: 1, nextAttemptAt: now + 60_000 });
      // Due exactly at `now`: delivery()'s own clock may already read a millisecond later.
      const second = delivery({ webhookId, orderKey, sequence: 2, nextAttemptAt: now });
      const other = delivery({ webhookId, sequence: 3, nextAttemptAt: now });
      await repo().insertMany([first, second, other]);
      const leased = (await repo().lease(now, 'a', 60_000, 1000)).filter((d) => d.webhookId === webhookId);
      expect(leased.map((d) => d.id)).to.deep.equal([other.id]);
      await repo().settle(other.id, 'a', { status: 'delivered', settledAt: now, leaseOwner: null, leaseUntil: 0 });
      const later = (await repo().lease(now + 61_000, 'b', 60_000, 1000)).filter((d) => d.webhookId === webhookId);
      expect(later.map((d) => d.id)).to.deep.equal([first.id]);
      expect(await repo().settle(first.id, 'b', { status: 'delivered', settledAt: now, leaseOwner: null, leaseUntil: 0 })).to.equal(true);
      const last = (await repo().lease(now + 62_000, 'c', 60_000, 1000)).filter((d) => d.webhookId === webhookId);
      expect(last.map((d) => d.id)).to.deep.equal([second.id]);
    });

    it('lets a key whose head waits for a retry hold up only its own deliveries, however many wait behind it', async () => {
      const webhookId = hook();
      const orderKey = `user:${uniqueId()}`;
      const now = Date.now();
      // Overdue by an hour, so they come before any other case's deliveries this lease may see.
      const overdue = now - 3_600_000;
      const head = delivery({ webhookId, orderKey, sequence: 1, attempts: 1, nextAttemptAt: now + 60_000 });
      // More waiting behind the head than one lease reads candidates for (4 a slot).
      const behind = Array.from({ length: 40 }, (_, i) => delivery({ webhookId, orderKey, sequence: 2 + i, nextAttemptAt: overdue }));
      const other = delivery({ webhookId, sequence: 100, nextAttemptAt: overdue });
      await repo().insertMany([head, ...behind, other]);
      const leased = (await repo().lease(now, 'a', 60_000, 1)).filter((d) => d.webhookId === webhookId);
      expect(leased.map((d) => d.id), 'the other key goes; nothing behind the head does').to.deep.equal([other.id]);
      await repo().settle(other.id, 'a', { status: 'delivered', attempts: 1, settledAt: now, leaseOwner: null, leaseUntil: 0 });
      expect((await repo().lease(now + 30_000, 'b', 60_000, 1000)).filter((d) => d.webhookId === webhookId), 'still nothing behind the head').to.deep.equal([]);
      const retried = (await repo().lease(now + 60_000, 'b', 60_000, 1000)).filter((d) => d.webhookId === webhookId);
      expect(retried.map((d) => d.id), 'the head, when its retry is due').to.deep.equal([head.id]);
      await repo().settle(head.id, 'b', { status: 'delivered', attempts: 2, settledAt: now + 60_000, leaseOwner: null, leaseUntil: 0 });
      const next = (await repo().lease(now + 60_000, 'c', 60_000, 1000)).filter((d) => d.webhookId === webhookId);
      expect(next.map((d) => d.id), 'the next of the key, as soon as the head is settled').to.deep.equal([behind[0]!.id]);
    });

    it('leases by sequence, not by the order of the writes: a delivery written late with an earlier number goes first', async () => {
      const webhookId = hook();
      const orderKey = `user:${uniqueId()}`;
      const now = Date.now();
      // Two requests took numbers 11 and 10, and the second one wrote first.
      const later = delivery({ webhookId, orderKey, sequence: 11, nextAttemptAt: now });
      const earlier = delivery({ webhookId, orderKey, sequence: 10, nextAttemptAt: now });
      await repo().insertMany([later]);
      await repo().insertMany([earlier]);
      const first = (await repo().lease(now, 'a', 60_000, 1000)).filter((d) => d.webhookId === webhookId);
      expect(first.map((d) => d.sequence)).to.deep.equal([10]);
      await repo().settle(earlier.id, 'a', { status: 'delivered', settledAt: now, leaseOwner: null, leaseUntil: 0 });
      const second = (await repo().lease(now, 'b', 60_000, 1000)).filter((d) => d.webhookId === webhookId);
      expect(second.map((d) => d.sequence)).to.deep.equal([11]);
    });

    it('lets only the lease holder settle, skips busy webhooks, lists newest first and replays an event', async () => {
      const webhookId = hook();
      const now = Date.now();
      const record = delivery({ webhookId, sequence: 7 });
      await repo().insertMany([record]);
      expect((await repo().lease(now, 'a', 60_000, 1000, [webhookId])).filter((d) => d.webhookId === webhookId), 'a busy webhook is skipped').to.deep.equal([]);
      await repo().lease(now, 'a', 60_000, 1000);
      expect(await repo().settle(record.id, 'intruder', { status: 'delivered' })).to.equal(false);
      expect(await repo().settle(record.id, 'a', { status: 'failed', attempts: 3, lastError: 'HTTP 500', settledAt: now, leaseOwner: null, leaseUntil: 0 })).to.equal(true);
      const failed = (await repo().list({ status: 'failed', limit: 1000 })).find((d) => d.id === record.id);
      expect(failed).to.include({ status: 'failed', attempts: 3, lastError: 'HTTP 500' });
      // Replayed late in its retention: kept a whole retention again, not purged while pending.
      const retainUntil = record.retainUntil + 86_400_000;
      expect(await repo().requeueEvent(record.eventId, now + 5, retainUntil)).to.equal(1);
      const again = (await repo().lease(now + 5, 'b', 60_000, 1000)).find((d) => d.id === record.id);
      expect(again).to.include({ status: 'pending', attempts: 0, leaseOwner: 'b', retainUntil });
      expect(await repo().requeueEvent('no-such-event', now, retainUntil)).to.equal(0);
    });
  });
}
