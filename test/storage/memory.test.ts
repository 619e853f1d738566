import { expect } from 'chai';
import { MemoryStore } from '../../src/storage/memory.js';
import { MEMORY_SETTLED_DELIVERIES, MemoryWebhookDeliveries } from '../../src/storage/memory/webhooks.js';
import { storeContract } from './contract/index.js';
import { delivery } from './contract/webhooks.js';

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
    expect(await deliveries.requeueEvent(records[2]!.eventId, now)).to.equal(1);
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
