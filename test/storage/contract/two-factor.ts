import { expect } from 'chai';
import { DuplicateKeyError, type TwoFactorEnrolmentRecord, type TwoFactorLoginRecord } from '../../../src/storage/types.js';
import { race, uniqueId, useStore, type StoreHarness } from './harness.js';

function enrolment(overrides: Partial<TwoFactorEnrolmentRecord> = {}): TwoFactorEnrolmentRecord {
  return {
    userId: uniqueId(),
    methodId: 'ABCD',
    method: 'authenticator',
    sealedSecret: 'sealed',
    recoveryCodeHashes: ['a1', 'b2', 'c3'],
    lastUsedStep: 0,
    insertInstant: 1_700_000_000_000,
    ...overrides,
  };
}

function pendingLogin(overrides: Partial<TwoFactorLoginRecord> = {}): TwoFactorLoginRecord {
  const now = Date.now();
  return { id: uniqueId(), userId: uniqueId(), applicationId: 'app', state: { a: 1 }, status: 'pending', attempts: 0, createdAt: now, expiresAt: now + 300_000, ...overrides };
}

/** Authenticator enrolments, pending two-factor logins and trusted devices. */
export function twoFactorContract(harness: StoreHarness): void {
  describe('two-factor state', () => {
    const store = useStore(harness);

    it('keeps one enrolment per user and deletes it', async () => {
      const record = enrolment();
      await store().twoFactor.insert(record);
      expect(await store().twoFactor.findByUser(record.userId)).to.deep.equal(record);
      let error: unknown;
      await store().twoFactor.insert(enrolment({ userId: record.userId })).catch((err: unknown) => (error = err));
      expect(error).to.be.instanceOf(DuplicateKeyError);
      expect(await store().twoFactor.delete(record.userId)).to.equal(true);
      expect(await store().twoFactor.findByUser(record.userId)).to.equal(null);
      expect(await store().twoFactor.delete(record.userId)).to.equal(false);
    });

    it('accepts a time step once, even under 20 concurrent calls, and never an earlier one', async () => {
      const record = enrolment();
      await store().twoFactor.insert(record);
      const { fulfilled, rejected } = await race(20, () => store().twoFactor.claimStep(record.userId, record.methodId, 100));
      expect(rejected).to.deep.equal([]);
      expect(fulfilled.filter(Boolean)).to.have.length(1);
      expect(await store().twoFactor.claimStep(record.userId, record.methodId, 99)).to.equal(false);
      expect(await store().twoFactor.claimStep(record.userId, 'other-method', 101)).to.equal(false);
      expect(await store().twoFactor.claimStep(record.userId, record.methodId, 101)).to.equal(true);
      expect((await store().twoFactor.findByUser(record.userId))!.lastUsedStep).to.equal(101);
    });

    it('spends a recovery code once, even under 20 concurrent calls, leaving the others', async () => {
      const record = enrolment();
      await store().twoFactor.insert(record);
      const { fulfilled } = await race(20, () => store().twoFactor.useRecoveryCode(record.userId, record.methodId, 'b2'));
      expect(fulfilled.filter(Boolean)).to.have.length(1);
      expect(await store().twoFactor.useRecoveryCode(record.userId, record.methodId, 'b2')).to.equal(false);
      expect(await store().twoFactor.useRecoveryCode(record.userId, record.methodId, 'dd')).to.equal(false);
      expect((await store().twoFactor.findByUser(record.userId))!.recoveryCodeHashes).to.deep.equal(['a1', 'c3']);
    });

    it('completes a pending two-factor login once, and not once used or expired', async () => {
      const record = pendingLogin();
      await store().twoFactorLogins.insert(record);
      expect(await store().twoFactorLogins.findById(record.id, Date.now())).to.deep.equal(record);
      const { fulfilled } = await race(20, () => store().twoFactorLogins.complete(record.id, Date.now()));
      expect(fulfilled.filter(Boolean)).to.have.length(1);
      expect((await store().twoFactorLogins.findById(record.id, Date.now()))!.status).to.equal('used');
      expect(await store().twoFactorLogins.reserveAttempt(record.id, 'a', Date.now(), 5), 'a used login takes no more answers').to.equal(null);

      const expired = pendingLogin({ expiresAt: Date.now() - 1 });
      await store().twoFactorLogins.insert(expired);
      expect(await store().twoFactorLogins.findById(expired.id, Date.now())).to.equal(null);
      expect(await store().twoFactorLogins.complete(expired.id, Date.now())).to.equal(false);
      expect(await store().twoFactorLogins.reserveAttempt(expired.id, 'a', Date.now(), 5)).to.equal(null);
    });

    it('gives a pending login maxAttempts tries, one per distinct answer in a row', async () => {
      const tried = pendingLogin();
      await store().twoFactorLogins.insert(tried);
      for (let i = 1; i <= 4; i += 1) expect((await store().twoFactorLogins.reserveAttempt(tried.id, `wrong-${i}`, Date.now(), 5))?.attempts).to.equal(i);
      expect(await store().twoFactorLogins.reserveAttempt(tried.id, 'wrong-4', Date.now(), 5), 'a resent answer is not counted again').to.equal(null);
      expect(await store().twoFactorLogins.reserveAttempt(tried.id, 'wrong-5', Date.now(), 5)).to.include({ id: tried.id, attempts: 5, lastWrongHash: 'wrong-5' });
      expect(await store().twoFactorLogins.reserveAttempt(tried.id, 'wrong-6', Date.now(), 5), 'no try is left').to.equal(null);
      const stored = await store().twoFactorLogins.findById(tried.id, Date.now());
      expect(stored).to.include({ attempts: 5, lastWrongHash: 'wrong-5', status: 'pending' });
    });

    it('gives exactly maxAttempts of 20 concurrent distinct answers a try', async () => {
      const record = pendingLogin();
      await store().twoFactorLogins.insert(record);
      let n = 0;
      const { fulfilled, rejected } = await race(20, async () => (await store().twoFactorLogins.reserveAttempt(record.id, `answer-${(n += 1)}`, Date.now(), 5))?.attempts ?? null);
      expect(rejected).to.deep.equal([]);
      const taken = fulfilled.filter((count) => count !== null);
      expect(taken).to.have.length(5);
      if (harness.exactUpdateResults) expect([...taken].sort()).to.deep.equal([1, 2, 3, 4, 5]);
      expect((await store().twoFactorLogins.findById(record.id, Date.now()))!.attempts).to.equal(5);
    });

    it('deleteByUser forgets every two-factor login of one user, pending or used, and only those', async () => {
      const userId = uniqueId();
      const mine = [pendingLogin({ userId }), pendingLogin({ userId, status: 'used' })];
      const other = pendingLogin();
      for (const record of [...mine, other]) await store().twoFactorLogins.insert(record);
      expect(await store().twoFactorLogins.deleteByUser(userId)).to.equal(2);
      for (const record of mine) expect(await store().twoFactorLogins.findById(record.id, Date.now())).to.equal(null);
      expect(await store().twoFactorLogins.complete(mine[0]!.id, Date.now())).to.equal(false);
      expect(await store().twoFactorLogins.findById(other.id, Date.now())).to.deep.equal(other);
      expect(await store().twoFactorLogins.deleteByUser(userId)).to.equal(0);
    });

    it('finds an unexpired trusted device and forgets all of one user only', async () => {
      const now = Date.now();
      const userId = uniqueId();
      const mine = [{ id: uniqueId(), userId, insertInstant: now, expiresAt: now + 60_000 }, { id: uniqueId(), userId, insertInstant: now, expiresAt: now + 60_000 }];
      const other = { id: uniqueId(), userId: uniqueId(), insertInstant: now, expiresAt: now + 60_000 };
      const old = { id: uniqueId(), userId, insertInstant: now, expiresAt: now - 1 };
      for (const record of [...mine, other, old]) await store().twoFactorTrusts.insert(record);
      expect(await store().twoFactorTrusts.findById(mine[0]!.id, now)).to.deep.equal(mine[0]);
      expect(await store().twoFactorTrusts.findById(old.id, now)).to.equal(null);
      expect(await store().twoFactorTrusts.deleteByUser(userId)).to.be.at.least(2);
      expect(await store().twoFactorTrusts.findById(mine[1]!.id, now)).to.equal(null);
      expect(await store().twoFactorTrusts.findById(other.id, now)).to.deep.equal(other);
    });
  });
}
