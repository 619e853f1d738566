import { expect } from 'chai';
import { MemoryStore } from '../../src/storage/memory.js';
import { MEMORY_SETTLED_DELIVERIES, MemoryWebhookDeliveries } from '../../src/storage/memory/webhooks.js';
import { storeContract } from './contract/index.js';
import { delivery } from './contract/webhooks.js';
import { MinHeap } from '../../src/storage/memory/heap.js';

describe('storage contract: memory store', () => {
  storeContract({
    open: async () => new MemoryStore(),
    // The memory store lets every concurrent consume resolve (it only overwrites `consumed`).
    rejectsLosingConsume: true,
    exactUpdateResults: true,
  });
});

describe('memory store: webhook deliveries kept', () => {
  it('keeps the most recently settled deliveries up to its cap, the oldest settled going first, and pending ones whatever their number', async () => {
    const deliveries = new MemoryWebhookDeliveries(3);
    const records = Array.from({ length: 6 }, (_, i) => delivery({ webhookId: 'capped', sequence: i + 1 }));
    await deliveries.insertMany(records);
    expect(await deliveries.list({ status: 'pending', limit: 100 }), 'pending ones are never dropped').to.have.length(6);
    const now = Date.now();
    const leased = await deliveries.lease(now, 'me', 60_000, 10);
    expect(leased).to.have.length(6);
    // Settled in the order 2, 1, 3, 5, 4: the first two settled go when the fourth and fifth come.
    for (const index of [1, 0, 2, 4, 3]) expect(await deliveries.settle(records[index]!.id, 'me', { status: 'delivered', settledAt: now, leaseOwner: null, leaseUntil: 0 })).to.equal(true);
    const kept = await deliveries.list({ limit: 100 });
    expect(kept.filter((d) => d.status === 'delivered').map((d) => d.sequence).sort()).to.deep.equal([3, 4, 5]);
    expect(kept.filter((d) => d.status === 'pending').map((d) => d.sequence)).to.deep.equal([6]);
    // A replayed event is pending again, and counts once more when it settles.
    expect(await deliveries.requeueEvent(records[2]!.eventId, now, records[2]!.retainUntil)).to.equal(1);
    const [again] = await deliveries.lease(now, 'me', 60_000, 1);
    expect(again?.sequence).to.equal(3);
    await deliveries.settle(again!.id, 'me', { status: 'failed', settledAt: now, leaseOwner: null, leaseUntil: 0 });
    const settled = (await deliveries.list({ limit: 100 })).filter((d) => d.status !== 'pending');
    expect(settled.map((d) => `${d.sequence}:${d.status}`).sort()).to.deep.equal(['3:failed', '4:delivered', '5:delivered']);
  });

  it('keeps the documented number of settled deliveries in a store made as the server makes it', async () => {
    const { webhookDeliveries } = new MemoryStore();
    const records = Array.from({ length: MEMORY_SETTLED_DELIVERIES + 5 }, (_, i) => delivery({ webhookId: 'default-cap', sequence: i + 1 }));
    await webhookDeliveries.insertMany(records);
    const now = Date.now();
    for (const record of await webhookDeliveries.lease(now, 'me', 60_000, records.length)) {
      await webhookDeliveries.settle(record.id, 'me', { status: 'delivered', settledAt: now, leaseOwner: null, leaseUntil: 0 });
    }
    const kept = await webhookDeliveries.list({ status: 'delivered', limit: records.length });
    expect(kept).to.have.length(10_000);
    expect(Math.min(...kept.map((d) => d.sequence)), 'the first five settled went').to.equal(6);
  });
});

describe('memory store: webhook delivery leases', () => {
  it('does not hold on to settled deliveries until their lease would have ended', async () => {
    const deliveries = new MemoryWebhookDeliveries();
    const now = Date.now();
    // A long lease, as leaseSeconds (120) is: each leased delivery is scheduled again for its end.
    for (let round = 0; round < 50; round += 1) {
      const batch = Array.from({ length: 100 }, (_, i) => delivery({ webhookId: 'busy', sequence: round * 100 + i + 1, nextAttemptAt: now }));
      await deliveries.insertMany(batch);
      const leased = await deliveries.lease(now, 'me', 120_000, 100);
      expect(leased).to.have.length(100);
      for (const { id } of leased) {
        expect(await deliveries.settle(id, 'me', { status: 'delivered', settledAt: now, leaseOwner: null, leaseUntil: 0 })).to.equal(true);
      }
    }
    // 5,000 leases settled: before, 5,000 entries (each holding its record and body) waited 120 s in the heap.
    expect(deliveries.waitingEntries).to.be.at.most(2 * 1024);
    // Still working: the next delivery goes, and one still leased comes back when its lease ends.
    await deliveries.insertMany([delivery({ webhookId: 'busy', sequence: 10_001, nextAttemptAt: now }), delivery({ webhookId: 'busy', sequence: 10_002, nextAttemptAt: now })]);
    const [first, second] = await deliveries.lease(now, 'me', 120_000, 2);
    expect([first?.sequence, second?.sequence]).to.deep.equal([10_001, 10_002]);
    await deliveries.settle(first!.id, 'me', { status: 'delivered', settledAt: now, leaseOwner: null, leaseUntil: 0 });
    expect(await deliveries.lease(now + 60_000, 'other', 120_000, 5), 'leased by me until its lease ends').to.have.length(0);
    expect((await deliveries.lease(now + 120_001, 'other', 120_000, 5)).map((d) => d.sequence)).to.deep.equal([10_002]);
  });

  it('leases the one delivery due among a thousand waiting for a retry, and those once their time comes', async () => {
    const deliveries = new MemoryWebhookDeliveries();
    const now = Date.now();
    const waiting = Array.from({ length: 1000 }, (_, i) => delivery({ webhookId: 'down', sequence: i + 1, attempts: 1, nextAttemptAt: now + 3_600_000 }));
    const fresh = delivery({ webhookId: 'down', sequence: 1001, nextAttemptAt: now });
    await deliveries.insertMany([...waiting, fresh]);
    expect((await deliveries.lease(now, 'me', 60_000, 10)).map((d) => d.id)).to.deep.equal([fresh.id]);
    const later = await deliveries.lease(now + 3_600_000, 'me', 60_000, 2000);
    expect(later.map((d) => d.sequence), 'oldest first, the fresh one again as its lease ended').to.deep.equal([...waiting.map((d) => d.sequence), 1001]);
  });

  it('leases nothing not due at the time it is asked for, even after a call with a later clock', async () => {
    const deliveries = new MemoryWebhookDeliveries();
    const now = Date.now();
    const record = delivery({ webhookId: 'clock', nextAttemptAt: now + 30_000 });
    await deliveries.insertMany([record]);
    // A call that saw a later clock but took nothing (no free slot).
    expect(await deliveries.lease(now + 60_000, 'me', 60_000, 0)).to.deep.equal([]);
    expect(await deliveries.lease(now, 'me', 60_000, 10), 'not due at now').to.deep.equal([]);
    expect((await deliveries.lease(now + 30_000, 'me', 60_000, 10)).map((d) => d.id)).to.deep.equal([record.id]);
  });

  it('keeps a retried delivery at the head of its key until it is settled, then lets the next one go', async () => {
    const deliveries = new MemoryWebhookDeliveries();
    const now = Date.now();
    const orderKey = 'user:retried';
    const [first, second] = [delivery({ webhookId: 'retry', orderKey, sequence: 1 }), delivery({ webhookId: 'retry', orderKey, sequence: 2 })];
    await deliveries.insertMany([first!, second!]);
    expect((await deliveries.lease(now, 'me', 60_000, 10)).map((d) => d.id)).to.deep.equal([first!.id]);
    await deliveries.settle(first!.id, 'me', { attempts: 1, lastError: 'HTTP 500', nextAttemptAt: now + 10_000, leaseOwner: null, leaseUntil: 0 });
    expect(await deliveries.lease(now + 5_000, 'me', 60_000, 10), 'the second waits behind the first').to.deep.equal([]);
    expect((await deliveries.lease(now + 10_000, 'me', 60_000, 10)).map((d) => d.id)).to.deep.equal([first!.id]);
    await deliveries.settle(first!.id, 'me', { status: 'delivered', attempts: 2, settledAt: now, leaseOwner: null, leaseUntil: 0 });
    expect((await deliveries.lease(now + 10_000, 'me', 60_000, 10)).map((d) => d.id)).to.deep.equal([second!.id]);
  });
});

describe('MinHeap', () => {
  it('gives its items back smallest first, however they were pushed', () => {
    const heap = new MinHeap<number>((a, b) => a < b);
    const values = Array.from({ length: 500 }, (_, i) => (i * 7919) % 503);
    for (const value of values) heap.push(value);
    expect(heap.size).to.equal(500);
    const out: number[] = [];
    for (let value = heap.pop(); value !== undefined; value = heap.pop()) out.push(value);
    expect(out).to.deep.equal([...values].sort((a, b) => a - b));
    expect(heap.peek()).to.equal(undefined);
  });

  it('drops the items refused by keep and still gives the rest back smallest first', () => {
    const heap = new MinHeap<number>((a, b) => a < b);
    const values = Array.from({ length: 500 }, (_, i) => (i * 7919) % 503);
    for (const value of values) heap.push(value);
    heap.keep((value) => value % 3 !== 0);
    heap.push(3);
    const out: number[] = [];
    for (let value = heap.pop(); value !== undefined; value = heap.pop()) out.push(value);
    expect(out).to.deep.equal([...values.filter((value) => value % 3 !== 0), 3].sort((a, b) => a - b));
  });
});
