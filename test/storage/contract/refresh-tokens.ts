import { expect } from 'chai';
import type { RefreshTokenRecord } from '../../../src/storage/types.js';
import { race, uniqueId, useStore, type StoreHarness } from './harness.js';

function token(overrides: Partial<RefreshTokenRecord> = {}): RefreshTokenRecord {
  const now = Date.now();
  return {
    id: uniqueId(),
    tokenHash: uniqueId(),
    userId: 'user-1',
    applicationId: 'app',
    startInstant: now,
    insertInstant: now,
    expiresAt: now + 60_000,
    ...overrides,
  };
}

/** The REST API's refresh tokens. */
export function refreshTokensContract(harness: StoreHarness): void {
  describe('refresh tokens', () => {
    const store = useStore(harness);

    it('consumes a token once, even under 20 concurrent calls', async () => {
      const record = token();
      await store().refreshTokens.insert(record);
      const { fulfilled, rejected } = await race(20, () => store().refreshTokens.consume(record.tokenHash, Date.now()));
      expect(rejected).to.deep.equal([]);
      const winners = fulfilled.filter((r) => r !== null);
      expect(winners).to.have.length(1);
      expect(winners[0]).to.include({ id: record.id, userId: 'user-1', applicationId: 'app' });
      expect(await store().refreshTokens.consume(record.tokenHash, Date.now())).to.equal(null);
    });

    it('refuses an expired token even before clean-up', async () => {
      const record = token({ expiresAt: Date.now() - 1 });
      await store().refreshTokens.insert(record);
      expect(await store().refreshTokens.consume(record.tokenHash, Date.now())).to.equal(null);
    });

    it('deletes every token of one user only', async () => {
      const userId = uniqueId();
      const mine = [token({ userId }), token({ userId })];
      const other = token();
      for (const record of [...mine, other]) await store().refreshTokens.insert(record);
      expect(await store().refreshTokens.deleteByUser(userId)).to.equal(2);
      expect(await store().refreshTokens.consume(mine[0]!.tokenHash, Date.now())).to.equal(null);
      expect(await store().refreshTokens.consume(other.tokenHash, Date.now())).to.not.equal(null);
    });

    it('finds a token by hash whether consumed or not, and deletes a chain whole (a token without chainId is its own chain)', async () => {
      const chainId = uniqueId();
      const first = token({ id: chainId, chainId });
      const next = token({ chainId });
      const legacy = token();
      const other = token({ chainId: uniqueId() });
      for (const record of [first, next, legacy, other]) await store().refreshTokens.insert(record);
      await store().refreshTokens.consume(first.tokenHash, Date.now());
      expect((await store().refreshTokens.findByHash(first.tokenHash))?.consumedAt).to.be.a('number');
      expect(await store().refreshTokens.findByHash(uniqueId())).to.equal(null);
      expect(await store().refreshTokens.deleteChain(chainId)).to.equal(2);
      expect(await store().refreshTokens.findByHash(next.tokenHash)).to.equal(null);
      expect(await store().refreshTokens.deleteChain(legacy.id)).to.equal(1);
      expect(await store().refreshTokens.findByHash(other.tokenHash)).to.not.equal(null);
    });

    it('deletes one token by hash (true once), leaving the others', async () => {
      const [mine, other] = [token(), token()];
      for (const record of [mine, other]) await store().refreshTokens.insert(record);
      expect(await store().refreshTokens.deleteByHash(mine.tokenHash)).to.equal(true);
      expect(await store().refreshTokens.deleteByHash(mine.tokenHash)).to.equal(false);
      expect(await store().refreshTokens.findByHash(mine.tokenHash)).to.equal(null);
      expect(await store().refreshTokens.findByHash(other.tokenHash)).to.not.equal(null);
    });

    it("deletes an application's tokens, or one user's tokens for it, and no others", async () => {
      const app = uniqueId();
      const [ann, bob] = [uniqueId(), uniqueId()];
      const annHere = [token({ applicationId: app, userId: ann }), token({ applicationId: app, userId: ann })];
      const bobHere = token({ applicationId: app, userId: bob });
      const annElsewhere = token({ userId: ann });
      for (const record of [...annHere, bobHere, annElsewhere]) await store().refreshTokens.insert(record);
      expect(await store().refreshTokens.deleteByApplication(app, ann)).to.equal(2);
      expect(await store().refreshTokens.findByHash(bobHere.tokenHash)).to.not.equal(null);
      expect(await store().refreshTokens.findByHash(annElsewhere.tokenHash)).to.not.equal(null);
      expect(await store().refreshTokens.deleteByApplication(app)).to.equal(1);
      expect(await store().refreshTokens.findByHash(bobHere.tokenHash)).to.equal(null);
      expect(await store().refreshTokens.findByHash(annElsewhere.tokenHash)).to.not.equal(null);
    });

    it("lists a user's usable tokens, oldest first: not consumed ones, expired ones or other users'", async () => {
      const userId = uniqueId();
      const now = Date.now();
      const older = token({ userId, insertInstant: now - 2000 });
      const newer = token({ userId, insertInstant: now - 1000 });
      const spent = token({ userId });
      const expired = token({ userId, expiresAt: now - 1 });
      for (const record of [newer, older, spent, expired, token()]) await store().refreshTokens.insert(record);
      await store().refreshTokens.consume(spent.tokenHash, now);
      expect((await store().refreshTokens.listByUser(userId, now)).map((r) => r.id)).to.deep.equal([older.id, newer.id]);
      expect(await store().refreshTokens.listByUser(uniqueId(), now)).to.deep.equal([]);
    });
  });
}
