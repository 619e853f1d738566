import { expect } from 'chai';
import { MemoryStore } from '../../src/storage/memory.js';
import { PasswordlessCodes } from '../../src/passwordless/codes.js';
import { hashCode } from '../../src/passwordless/hash.js';
import { codeIsOlder } from '../../src/storage/expectations.js';

function service(store = new MemoryStore()) {
  return {
    store,
    codes: new PasswordlessCodes(store.codes, store.counters, {
      timeToLiveInSeconds: 180,
      linkCode: { generator: 'randomBytes', length: 32 },
      shortCode: { generator: 'randomDigits', length: 6 },
      maxAttempts: 5,
      retainSeconds: 3600,
    }),
  };
}

describe('passwordless codes', () => {
  it('stores only hashes of the link and short codes', async () => {
    const { store, codes } = service();
    const before = Date.now();
    const issued = await codes.issue({ userId: 'u1', clientId: 'c', withShortCode: true });
    const record = await store.codes.findById(hashCode(issued.linkCode), Date.now());
    expect(record).to.not.equal(null);
    // The hashes (hex) and the instants (13 digits each) hold a given six-digit short code by
    // chance about once in 30,000 runs: they are checked exactly here, and the codes are then
    // looked for in every other field.
    const { id, shortHash, createdAt, expiresAt, retainUntil, ...rest } = record!;
    expect(id).to.equal(hashCode(issued.linkCode));
    expect(shortHash).to.equal(hashCode(issued.shortCode!));
    expect(createdAt).to.be.within(before, Date.now());
    expect(expiresAt).to.equal(createdAt + 180_000);
    expect(retainUntil).to.equal(expiresAt + 3_600_000);
    const serialised = JSON.stringify(rest);
    expect(serialised).to.include('"userId":"u1"', 'the other fields are there to search');
    expect(serialised).to.not.include(issued.linkCode);
    expect(serialised).to.not.include(issued.shortCode!);
  });

  it('redeems a link code once, and says why afterwards', async () => {
    const { codes } = service();
    const { linkCode } = await codes.issue({ userId: 'u1', clientId: 'c', withShortCode: false });
    expect((await codes.redeemLink(linkCode)).usable).to.equal(true);
    const again = await codes.redeemLink(linkCode);
    expect(again).to.include({ usable: false, problem: 'used' });
  });

  it('lets exactly one of 20 concurrent redemptions win', async () => {
    const { codes } = service();
    const { linkCode } = await codes.issue({ userId: 'u1', clientId: 'c', withShortCode: false });
    const results = await Promise.all(Array.from({ length: 20 }, () => codes.redeemLink(linkCode)));
    expect(results.filter((r) => r.usable)).to.have.length(1);
  });

  it('supersedes the earlier codes of the same user only', async () => {
    const { codes } = service();
    const first = await codes.issue({ userId: 'u1', clientId: 'c', withShortCode: false });
    const other = await codes.issue({ userId: 'u2', clientId: 'c', withShortCode: false });
    const second = await codes.issue({ userId: 'u1', clientId: 'c', withShortCode: false });
    expect(await codes.inspect(first.linkCode)).to.include({ usable: false, problem: 'superseded' });
    expect((await codes.inspect(other.linkCode)).usable).to.equal(true);
    expect((await codes.inspect(second.linkCode)).usable).to.equal(true);
  });

  it('keeps exactly one of 10 concurrent codes for one user valid: the newest', async () => {
    const { codes } = service();
    const issued = await Promise.all(Array.from({ length: 10 }, () => codes.issue({ userId: 'u1', clientId: 'c', withShortCode: false })));
    const newest = issued.reduce((kept, code) => (codeIsOlder(code.record, kept.record) ? kept : code));
    const usable = [];
    for (const code of issued) if ((await codes.inspect(code.linkCode)).usable) usable.push(code.linkCode);
    expect(usable).to.deep.equal([newest.linkCode]);
  });

  it('keeps the last of codes asked for one after another valid, even within one millisecond', async () => {
    const { codes } = service();
    const issued = [];
    for (let i = 0; i < 50; i += 1) issued.push(await codes.issue({ userId: 'u1', clientId: 'c', withShortCode: false }));
    const usable = [];
    for (const code of issued) if ((await codes.inspect(code.linkCode)).usable) usable.push(code.linkCode);
    expect(usable).to.deep.equal([issued.at(-1)!.linkCode]);
  });

  it('refuses an expired code and tells it apart from an unknown one', async () => {
    const { codes } = service();
    const now = Date.now();
    const { linkCode } = await codes.issue({ userId: 'u1', clientId: 'c', withShortCode: false }, now - 181_000);
    expect(await codes.redeemLink(linkCode, {}, now)).to.include({ usable: false, problem: 'expired' });
    expect(await codes.redeemLink('no-such-code', {}, now)).to.include({ usable: false, problem: 'unknown' });
  });

  it('only redeems a link for the sign-in it was issued for', async () => {
    const { codes } = service();
    const { linkCode } = await codes.issue({ userId: 'u1', clientId: 'c', interactionUid: 'A', withShortCode: false });
    expect((await codes.redeemLink(linkCode, { interactionUid: 'B' })).usable).to.equal(false);
    expect((await codes.redeemLink(linkCode, { interactionUid: 'A' })).usable).to.equal(true);
  });

  it('counts wrong short codes and voids the code at the limit', async () => {
    const { codes } = service();
    const { shortCode, record } = await codes.issue({ userId: 'u1', clientId: 'c', withShortCode: true });
    const wrong = shortCode === '000000' ? '000001' : '000000';
    for (let left = 4; left >= 1; left -= 1) {
      expect(await codes.redeemShortCode(record, wrong)).to.deep.equal({ ok: false, problem: 'wrong', attemptsLeft: left });
    }
    expect(await codes.redeemShortCode(record, wrong)).to.deep.equal({ ok: false, problem: 'exhausted' });
    expect(await codes.redeemShortCode(record, shortCode!)).to.deep.equal({ ok: false, problem: 'exhausted' });
  });

  it('accepts the right short code once', async () => {
    const { codes } = service();
    const { shortCode, record } = await codes.issue({ userId: 'u1', clientId: 'c', withShortCode: true });
    expect((await codes.redeemShortCode(record, shortCode!)).ok).to.equal(true);
    expect(await codes.redeemShortCode(record, shortCode!)).to.deep.equal({ ok: false, problem: 'used' });
  });
});
