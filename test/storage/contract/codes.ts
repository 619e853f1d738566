import { expect } from 'chai';
import { codeIsOlder } from '../../../src/storage/expectations.js';
import type { CodeExpectation, PasswordlessCodeRecord } from '../../../src/storage/types.js';
import { expectDuplicate } from './users.js';
import { makeCode, race, uniqueId, useStore, type StoreHarness } from './harness.js';

/** The passwordless code repository. */
export function codesContract(harness: StoreHarness): void {
  describe('passwordless codes', () => {
    const store = useStore(harness);

    it('returns an inserted code exactly as given while it is retained, and null after', async () => {
      const code = makeCode({ state: { client_id: 'client-a', nested: { n: 1 } }, extra: { device: 'phone' }, interactionUid: uniqueId() });
      await store().codes.insert(code);
      expect(await store().codes.findById(code.id, code.retainUntil - 1)).to.deep.equal(code);
      expect(await store().codes.findById(code.id, code.retainUntil)).to.equal(null);
      expect(await store().codes.findById(uniqueId(), code.createdAt)).to.equal(null);
    });

    it('refuses a second code with the same hash', async () => {
      const code = makeCode();
      await store().codes.insert(code);
      await expectDuplicate(store().codes.insert(makeCode({ id: code.id })), 'code');
      expect(await store().codes.findById(code.id, code.createdAt)).to.deep.equal(code);
    });

    it('finds the newest retained code of an interaction', async () => {
      const interactionUid = uniqueId();
      const t = Date.now();
      const oldest = makeCode({ interactionUid, createdAt: t, retainUntil: t + 10_000 });
      const newest = makeCode({ interactionUid, createdAt: t + 2000, retainUntil: t + 5000 });
      const middle = makeCode({ interactionUid, createdAt: t + 1000, retainUntil: t + 20_000 });
      const elsewhere = makeCode({ interactionUid: uniqueId(), createdAt: t + 3000 });
      for (const code of [oldest, newest, middle, elsewhere]) await store().codes.insert(code);
      expect(await store().codes.findLatestForInteraction(interactionUid, t + 2500)).to.deep.equal(newest);
      // Once the newest is past retention, the newest still retained is the answer.
      expect(await store().codes.findLatestForInteraction(interactionUid, t + 6000)).to.deep.equal(middle);
      expect(await store().codes.findLatestForInteraction(interactionUid, t + 30_000)).to.equal(null);
      expect(await store().codes.findLatestForInteraction(uniqueId(), t)).to.equal(null);
    });

    it("supersedes every active code of a user but the newest, and only those", async () => {
      const userId = uniqueId();
      const t = Date.now();
      const kept = makeCode({ userId, createdAt: t + 2000 });
      const older = [makeCode({ userId, createdAt: t }), makeCode({ userId, createdAt: t + 1000 })];
      // Newer, but no longer active: it is not the code that stays valid.
      const used = makeCode({ userId, status: 'used', createdAt: t + 3000 });
      const someoneElse = makeCode({ createdAt: t + 4000 });
      for (const code of [older[0]!, kept, used, older[1]!, someoneElse]) await store().codes.insert(code);
      expect(await store().codes.supersedeAllButNewest(userId)).to.equal(2);
      const statusOf = async (id: string): Promise<string | undefined> => (await store().codes.findById(id, t))?.status;
      expect(await statusOf(kept.id)).to.equal('active');
      expect(await Promise.all(older.map((code) => statusOf(code.id)))).to.deep.equal(['superseded', 'superseded']);
      expect(await statusOf(used.id)).to.equal('used');
      expect(await statusOf(someoneElse.id)).to.equal('active');
      expect(await store().codes.supersedeAllButNewest(userId)).to.equal(0);
      expect(await store().codes.supersedeAllButNewest(uniqueId()), 'a user without codes').to.equal(0);
    });

    it('breaks a tie of createdAt by id: the greater id is the newer code', async () => {
      const userId = uniqueId();
      const createdAt = Date.now();
      const [lower, higher] = [makeCode({ userId, createdAt }), makeCode({ userId, createdAt })].sort((a, b) => (codeIsOlder(a, b) ? -1 : 1));
      await store().codes.insert(higher!);
      await store().codes.insert(lower!);
      expect(await store().codes.supersedeAllButNewest(userId)).to.equal(1);
      expect((await store().codes.findById(higher!.id, createdAt))?.status).to.equal('active');
      expect((await store().codes.findById(lower!.id, createdAt))?.status).to.equal('superseded');
    });

    /** Codes of one user, some created in the same millisecond, in no particular order. */
    function codesOfOneUser(count: number): PasswordlessCodeRecord[] {
      const userId = uniqueId();
      const t = Date.now();
      return Array.from({ length: count }, (_, i) => makeCode({ userId, createdAt: t + ((i * 7) % 5) }));
    }

    /** Checks that exactly one of the codes is active, and that it is the newest of them. */
    async function expectOnlyNewestActive(codes: PasswordlessCodeRecord[]): Promise<void> {
      const newest = codes.reduce((kept, code) => (codeIsOlder(code, kept) ? kept : code));
      const statuses = await Promise.all(codes.map(async (code) => (await store().codes.findById(code.id, code.createdAt))?.status));
      const active = codes.filter((_, i) => statuses[i] === 'active').map((code) => code.id);
      expect(active, 'the active codes').to.deep.equal([newest.id]);
      expect(statuses.filter((status) => status === 'superseded')).to.have.length(codes.length - 1);
    }

    it('leaves exactly one active code, the newest, when every issuer inserts before any supersedes', async () => {
      // The interleaving of concurrent issues that voided every code when each issuer
      // superseded "all but its own".
      const codes = codesOfOneUser(10);
      await Promise.all(codes.map((code) => store().codes.insert(code)));
      const { rejected } = await race(codes.length, () => store().codes.supersedeAllButNewest(codes[0]!.userId));
      expect(rejected).to.deep.equal([]);
      await expectOnlyNewestActive(codes);
    });

    it('leaves exactly one active code, the newest, after 10 concurrent insert-then-supersede issues for one user', async () => {
      const codes = codesOfOneUser(10);
      const outcomes = await Promise.allSettled(
        codes.map(async (code) => {
          await store().codes.insert(code);
          return store().codes.supersedeAllButNewest(code.userId);
        }),
      );
      expect(outcomes.filter((outcome) => outcome.status === 'rejected')).to.deep.equal([]);
      await expectOnlyNewestActive(codes);
    });

    it('compareAndSet applies the change and returns the updated record when every expectation holds', async () => {
      const code = makeCode({ attempts: 2 });
      await store().codes.insert(code);
      const expect_: CodeExpectation = { status: 'active', unexpiredAt: code.expiresAt - 1, shortHash: code.shortHash ?? '', attemptsBelow: 3 };
      const usedAt = code.createdAt + 10;
      const updated = await store().codes.compareAndSet(code.id, expect_, { status: 'used', usedAt });
      expect(updated).to.deep.equal({ ...code, status: 'used', usedAt });
      expect(await store().codes.findById(code.id, code.createdAt)).to.deep.equal(updated);
    });

    const failing: [string, CodeExpectation][] = [
      ['status differs', { status: 'used' }],
      ['the code expired at that instant', { unexpiredAt: 0 }],
      ['the short hash differs', { shortHash: 'wrong' }],
      ['attempts are not below the limit', { attemptsBelow: 2 }],
    ];
    for (const [reason, partial] of failing) {
      it(`compareAndSet changes nothing and returns null when ${reason}`, async () => {
        const code = makeCode({ attempts: 2 });
        await store().codes.insert(code);
        const expectation = { ...partial, unexpiredAt: partial.unexpiredAt === 0 ? code.expiresAt : undefined };
        expect(await store().codes.compareAndSet(code.id, expectation, { status: 'used' })).to.equal(null);
        expect(await store().codes.findById(code.id, code.createdAt)).to.deep.equal(code);
      });
    }

    it('compareAndSet matches fields of extra: equal values only, a missing field never', async () => {
      const code = makeCode({ extra: { approval: 'pending', pair: 42 } });
      await store().codes.insert(code);
      expect(await store().codes.compareAndSet(code.id, { extraFields: { approval: 'approved' } }, { status: 'used' })).to.equal(null);
      expect(await store().codes.compareAndSet(code.id, { extraFields: { missing: 'x' } }, { status: 'used' })).to.equal(null);
      const approved = await store().codes.compareAndSet(
        code.id,
        { status: 'active', extraFields: { approval: 'pending', pair: 42 } },
        { extra: { approval: 'approved', pair: 42 } },
      );
      expect(approved?.extra).to.deep.equal({ approval: 'approved', pair: 42 });
      const { fulfilled } = await race(10, () =>
        store().codes.compareAndSet(code.id, { extraFields: { approval: 'approved' } }, { extra: { approval: 'spent', pair: 42 } }),
      );
      expect(fulfilled.filter((r) => r !== null), 'one approval is spent once').to.have.length(1);
    });

    it('compareAndSet returns null for an unknown code', async () => {
      expect(await store().codes.compareAndSet(uniqueId(), {}, { status: 'used' })).to.equal(null);
    });

    it('compareAndSet can extend retention, and reads honour the new limit', async () => {
      const code = makeCode();
      await store().codes.insert(code);
      const retainUntil = code.retainUntil + 60_000;
      await store().codes.compareAndSet(code.id, { status: 'active' }, { status: 'used', retainUntil });
      expect((await store().codes.findById(code.id, code.retainUntil + 1))?.retainUntil).to.equal(retainUntil);
    });

    it('lets exactly one of 20 concurrent redeems win', async () => {
      const code = makeCode();
      await store().codes.insert(code);
      const now = Date.now();
      const { fulfilled, rejected } = await race(20, () =>
        store().codes.compareAndSet(code.id, { status: 'active', unexpiredAt: now }, { status: 'used', usedAt: now }),
      );
      expect(rejected).to.deep.equal([]);
      expect(fulfilled.filter((result) => result !== null)).to.have.length(1);
      expect((await store().codes.findById(code.id, now))?.status).to.equal('used');
    });

    it('reserveAttempt gives exactly maxAttempts of 20 concurrent tries, and counts only those', async () => {
      const code = makeCode();
      await store().codes.insert(code);
      const now = Date.now();
      const { fulfilled, rejected } = await race(20, () => store().codes.reserveAttempt(code.id, 5, now));
      expect(rejected).to.deep.equal([]);
      const taken = fulfilled.filter((record) => record !== null);
      expect(taken).to.have.length(5);
      const seen = taken.map((record) => record.attempts).sort((a, b) => a - b);
      if (harness.exactUpdateResults) expect(seen).to.deep.equal([1, 2, 3, 4, 5]);
      else expect(seen.every((attempts) => attempts >= 1 && attempts <= 5), `saw ${seen}`).to.equal(true);
      expect(await store().codes.findById(code.id, now)).to.deep.equal({ ...code, attempts: 5 });
      expect(await store().codes.reserveAttempt(code.id, 5, now), 'no try is left').to.equal(null);
    });

    it('reserveAttempt continues from the stored count and stops at the limit', async () => {
      const code = makeCode({ attempts: 3 });
      await store().codes.insert(code);
      const now = Date.now();
      expect((await store().codes.reserveAttempt(code.id, 5, now))?.attempts).to.equal(4);
      expect((await store().codes.reserveAttempt(code.id, 5, now))?.attempts).to.equal(5);
      expect(await store().codes.reserveAttempt(code.id, 5, now)).to.equal(null);
      expect((await store().codes.findById(code.id, now))?.attempts).to.equal(5);
    });

    it('reserveAttempt gives no try on a code that is not active, an expired code, or an unknown one', async () => {
      const now = Date.now();
      const superseded = makeCode({ status: 'superseded' });
      const expired = makeCode({ expiresAt: now - 1 });
      await store().codes.insert(superseded);
      await store().codes.insert(expired);
      expect(await store().codes.reserveAttempt(superseded.id, 5, now)).to.equal(null);
      expect(await store().codes.reserveAttempt(expired.id, 5, now)).to.equal(null);
      expect(await store().codes.reserveAttempt(uniqueId(), 5, now)).to.equal(null);
      expect((await store().codes.findById(superseded.id, now))?.attempts).to.equal(0);
      expect((await store().codes.findById(expired.id, now))?.attempts).to.equal(0);
    });

    it('deleteByUser removes every code of one user, in any status, and only those', async () => {
      const userId = uniqueId();
      const interactionUid = uniqueId();
      const mine = [makeCode({ userId }), makeCode({ userId, status: 'used' }), makeCode({ userId, status: 'superseded', interactionUid })];
      const someoneElse = makeCode();
      for (const code of [...mine, someoneElse]) await store().codes.insert(code);
      expect(await store().codes.deleteByUser(userId)).to.equal(3);
      for (const code of mine) expect(await store().codes.findById(code.id, code.createdAt)).to.equal(null);
      expect(await store().codes.findLatestForInteraction(interactionUid, mine[2]!.createdAt)).to.equal(null);
      expect(await store().codes.compareAndSet(mine[0]!.id, { status: 'active' }, { status: 'used' })).to.equal(null);
      expect(await store().codes.findById(someoneElse.id, someoneElse.createdAt)).to.deep.equal(someoneElse);
      expect(await store().codes.deleteByUser(userId)).to.equal(0);
      // The user's next code is indexed afresh and superseding still works.
      const next = makeCode({ userId });
      const newer = makeCode({ userId, createdAt: next.createdAt + 1 });
      await store().codes.insert(next);
      await store().codes.insert(newer);
      expect(await store().codes.supersedeAllButNewest(userId)).to.equal(1);
      expect((await store().codes.findById(newer.id, newer.createdAt))?.status).to.equal('active');
    });
  });
}
