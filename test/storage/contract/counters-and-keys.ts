import { expect } from 'chai';
import { expectDuplicate } from './users.js';
import { makeApiKey, race, sleep, uniqueId, useStore, type StoreHarness } from './harness.js';

/** Rate-limit counters. */
export function countersContract(harness: StoreHarness): void {
  describe('counters', () => {
    const store = useStore(harness);

    it('counts up within a window and reads zero once it ends', async () => {
      const key = uniqueId();
      const expiresAt = Date.now() + 60_000;
      expect(await store().counters.increment(key, expiresAt)).to.equal(1);
      expect(await store().counters.increment(key, expiresAt)).to.equal(2);
      expect(await store().counters.get(key, Date.now())).to.equal(2);
      expect(await store().counters.get(key, expiresAt)).to.equal(0);
      expect(await store().counters.get(uniqueId(), Date.now())).to.equal(0);
    });

    it('counts every one of 20 concurrent increments of a new key', async () => {
      const key = uniqueId();
      const { fulfilled, rejected } = await race(20, () => store().counters.increment(key, Date.now() + 60_000));
      expect(rejected).to.deep.equal([]);
      const seen = [...fulfilled].sort((a, b) => a - b);
      if (harness.exactUpdateResults) expect(seen).to.deep.equal(Array.from({ length: 20 }, (_, i) => i + 1));
      else expect(seen.every((count) => count >= 1 && count <= 20) && seen.at(-1) === 20, `saw ${seen}`).to.equal(true);
      expect(await store().counters.get(key, Date.now())).to.equal(20);
    });

    it('starts again at one after the window ended, even if the old counter was not cleaned up yet', async () => {
      const key = uniqueId();
      await store().counters.increment(key, Date.now() + 100);
      await store().counters.increment(key, Date.now() + 100);
      await sleep(150);
      const expiresAt = Date.now() + 60_000;
      expect(await store().counters.increment(key, expiresAt)).to.equal(1);
      expect(await store().counters.get(key, Date.now())).to.equal(1);
      expect(await store().counters.get(key, expiresAt - 1)).to.equal(1);
    });

    it('decrement takes one back within the window, never below zero, and not after it ended', async () => {
      const key = uniqueId();
      const expiresAt = Date.now() + 60_000;
      await store().counters.increment(key, expiresAt);
      await store().counters.increment(key, expiresAt);
      await store().counters.decrement(key, Date.now());
      expect(await store().counters.get(key, Date.now())).to.equal(1);
      await store().counters.decrement(key, Date.now());
      await store().counters.decrement(key, Date.now());
      expect(await store().counters.get(key, Date.now())).to.equal(0);
      expect(await store().counters.increment(key, expiresAt)).to.equal(1);
      await store().counters.decrement(uniqueId(), Date.now());

      const ended = uniqueId();
      await store().counters.increment(ended, Date.now() + 100);
      await sleep(150);
      await store().counters.decrement(ended, Date.now());
      expect(await store().counters.increment(ended, Date.now() + 60_000), 'a new window starts at one').to.equal(1);
    });

    it('counts 20 concurrent increments and decrements of one key to the difference', async () => {
      const key = uniqueId();
      const expiresAt = Date.now() + 60_000;
      for (let i = 0; i < 20; i += 1) await store().counters.increment(key, expiresAt);
      const { rejected } = await race(20, async () => {
        await store().counters.increment(key, expiresAt);
        await store().counters.decrement(key, Date.now());
        await store().counters.decrement(key, Date.now());
      });
      expect(rejected).to.deep.equal([]);
      expect(await store().counters.get(key, Date.now())).to.equal(0);
    });

    it('numbers a sequence 1, 2, 3 … once each, also under 20 concurrent calls, apart from other keys', async () => {
      const key = uniqueId();
      const keep = Date.now() + 60_000;
      expect(await store().counters.sequence(key, keep)).to.equal(1);
      const { fulfilled, rejected } = await race(20, () => store().counters.sequence(key, keep));
      expect(rejected).to.deep.equal([]);
      const numbers = [...fulfilled].sort((a, b) => a - b);
      // An engine that re-reads after its write may show a caller a later number (see exactUpdateResults).
      if (harness.exactUpdateResults) expect(numbers).to.deep.equal(Array.from({ length: 20 }, (_, i) => i + 2));
      else expect(numbers.every((n) => n >= 2 && n <= 21) && numbers.at(-1) === 21, numbers.join()).to.equal(true);
      expect(await store().counters.sequence(uniqueId(), keep)).to.equal(1);
    });

    it('keeps the window of the first increment', async () => {
      const key = uniqueId();
      const firstExpiry = Date.now() + 60_000;
      await store().counters.increment(key, firstExpiry);
      await store().counters.increment(key, firstExpiry + 60_000);
      expect(await store().counters.get(key, firstExpiry)).to.equal(0);
    });
  });
}

/** API keys. */
export function apiKeysContract(harness: StoreHarness): void {
  describe('api keys', () => {
    const store = useStore(harness);

    it('finds a key by its hash, exactly as inserted, lists and deletes it', async () => {
      const first = makeApiKey({ insertInstant: 1000, permissions: { '/api/user': ['GET', 'POST'] } });
      const second = makeApiKey({ insertInstant: 2000, permissions: {} });
      await store().apiKeys.insert(second);
      await store().apiKeys.insert(first);
      expect(await store().apiKeys.findByHash(first.keyHash)).to.deep.equal(first);
      expect(await store().apiKeys.findByHash(uniqueId())).to.equal(null);
      expect(await store().apiKeys.list()).to.have.deep.members([first, second]).and.have.length(2);
      expect(await store().apiKeys.delete(first.id)).to.equal(true);
      expect(await store().apiKeys.delete(first.id)).to.equal(false);
      expect(await store().apiKeys.findByHash(first.keyHash)).to.equal(null);
      expect(await store().apiKeys.list()).to.deep.equal([second]);
    });

    it('refuses a duplicate id or a duplicate key hash', async () => {
      const key = makeApiKey();
      await store().apiKeys.insert(key);
      await expectDuplicate(store().apiKeys.insert(makeApiKey({ id: key.id })), 'id');
      await expectDuplicate(store().apiKeys.insert(makeApiKey({ keyHash: key.keyHash })), 'key');
      expect((await store().apiKeys.list()).filter((listed) => listed.keyHash === key.keyHash)).to.have.length(1);
    });
  });
}
