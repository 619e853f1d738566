import { expect } from 'chai';
import { MemoryStore } from '../../src/storage/memory.js';
import { RateLimiter, SENDS_PER_CODE_RULE, ipBudgetSubject, withTry, type RateCheck, type RateLimitSettings } from '../../src/passwordless/rate-limits.js';
import type { TypedCodeResult } from '../../src/passwordless/codes.js';

const settings: RateLimitSettings = {
  enabled: true,
  sendPerAddress: { limit: 3, windowSeconds: 900 },
  sendPerIp: { limit: 5, windowSeconds: 900 },
  sendGlobal: { limit: 100, windowSeconds: 60 },
  typedCodesPerAccount: { limit: 4, windowSeconds: 3600 },
  wrongCodesPerIp: { limit: 50, windowSeconds: 3600 },
  wrongCodesGlobal: { limit: 10000, windowSeconds: 3600 },
};

describe('rate limits', () => {
  it('limits sends per address, case-insensitively, with the time to wait', async () => {
    const limiter = new RateLimiter(new MemoryStore().counters, settings);
    const now = 1_800_000_000_000;
    for (let i = 0; i < 3; i += 1) expect((await limiter.allowSend(i % 2 ? 'A@x.com' : 'a@x.com', `10.0.0.${i}`, now)).allowed).to.equal(true);
    const denied = await limiter.allowSend('a@x.com', '10.0.0.9', now);
    expect(denied).to.deep.include({ allowed: false, rule: 'sendPerAddress' });
    expect((denied as { retryAfterSeconds: number }).retryAfterSeconds).to.be.within(1, 900);
    expect((await limiter.allowSend('b@x.com', '10.0.0.9', now)).allowed, 'other addresses are unaffected').to.equal(true);
  });

  it('limits sends per IP across addresses', async () => {
    const limiter = new RateLimiter(new MemoryStore().counters, settings);
    const now = 1_800_000_000_000;
    for (let i = 0; i < 5; i += 1) expect((await limiter.allowSend(`u${i}@x.com`, '10.1.1.1', now)).allowed).to.equal(true);
    expect(await limiter.allowSend('u9@x.com', '10.1.1.1', now)).to.deep.include({ allowed: false, rule: 'sendPerIp' });
  });

  it('caps all sends together with the global ceiling, whatever the address and IP', async () => {
    const limiter = new RateLimiter(new MemoryStore().counters, { ...settings, sendGlobal: { limit: 4, windowSeconds: 60 } });
    const now = 1_800_000_000_000;
    for (let i = 0; i < 4; i += 1) expect((await limiter.allowSend(`g${i}@x.com`, `10.9.${i}.1`, now)).allowed).to.equal(true);
    const denied = await limiter.allowSend('fresh@x.com', '10.9.99.1', now);
    expect(denied).to.deep.include({ allowed: false, rule: 'sendGlobal' });
    expect((denied as { retryAfterSeconds: number }).retryAfterSeconds).to.be.within(1, 60);
  });

  it('asks the narrowest limit first: a send the per-IP limit refuses takes nothing from the address or global budgets', async () => {
    const limiter = new RateLimiter(new MemoryStore().counters, { ...settings, sendPerIp: { limit: 2, windowSeconds: 900 }, sendGlobal: { limit: 4, windowSeconds: 60 } });
    const now = 1_800_000_000_000;
    for (let i = 0; i < 2; i += 1) expect((await limiter.allowSend(`n${i}@x.com`, '10.4.0.1', now)).allowed).to.equal(true);
    for (let i = 0; i < 20; i += 1) expect(await limiter.allowSend('victim@x.com', '10.4.0.1', now)).to.deep.include({ allowed: false, rule: 'sendPerIp' });
    // Two of the four global sends are left, and the address the refused requests named still has its own three.
    for (let i = 0; i < 2; i += 1) expect((await limiter.allowSend('victim@x.com', `10.4.1.${i}`, now)).allowed).to.equal(true);
    expect(await limiter.allowSend('victim@x.com', '10.4.2.1', now)).to.deep.include({ allowed: false, rule: 'sendGlobal' });
  });

  it('a send the per-address limit refuses takes nothing from the global budget', async () => {
    const limiter = new RateLimiter(new MemoryStore().counters, { ...settings, sendGlobal: { limit: 4, windowSeconds: 60 } });
    const now = 1_800_000_000_000;
    for (let i = 0; i < 3; i += 1) expect((await limiter.allowSend('a@x.com', `10.5.0.${i}`, now)).allowed).to.equal(true);
    for (let i = 0; i < 10; i += 1) expect(await limiter.allowSend('a@x.com', `10.5.1.${i}`, now)).to.deep.include({ allowed: false, rule: 'sendPerAddress' });
    expect((await limiter.allowSend('b@x.com', '10.5.2.1', now)).allowed, 'the fourth global send').to.equal(true);
    expect(await limiter.allowSend('c@x.com', '10.5.2.2', now)).to.deep.include({ allowed: false, rule: 'sendGlobal' });
  });

  it('opens again in the next window', async () => {
    const limiter = new RateLimiter(new MemoryStore().counters, settings);
    const start = 1_800_000_000_000 - (1_800_000_000_000 % 900_000);
    for (let i = 0; i < 4; i += 1) await limiter.allowSend('a@x.com', `10.2.0.${i}`, start);
    expect((await limiter.allowSend('a@x.com', '10.2.1.1', start)).allowed).to.equal(false);
    expect((await limiter.allowSend('a@x.com', '10.2.1.1', start + 900_000)).allowed).to.equal(true);
  });

  /** Tries of typed codes go through withCodeTry: a wrong guess keeps its try, any other result gives it back. */
  const WRONG: TypedCodeResult = { ok: false, problem: 'wrong', attemptsLeft: 1 };
  const NOT_WRONG: TypedCodeResult = { ok: false, problem: 'used' };
  // `now` is required: with the clock, the tries of one test could fall into two windows.
  const guessWrong = async (limiter: RateLimiter, keys: string[], now: number) => (await limiter.withCodeTry(keys, async () => WRONG, now)).allowed;
  const guessNotWrong = async (limiter: RateLimiter, keys: string[], now: number) => (await limiter.withCodeTry(keys, async () => NOT_WRONG, now)).allowed;

  it('takes typed-code tries per account across codes, before they are checked', async () => {
    const limiter = new RateLimiter(new MemoryStore().counters, settings);
    const now = 1_800_000_000_000;
    for (let i = 0; i < 4; i += 1) expect(await guessWrong(limiter, ['user-1'], now)).to.equal(true);
    expect(await guessWrong(limiter, ['user-1'], now)).to.equal(false);
    expect(await guessWrong(limiter, ['user-2'], now)).to.equal(true);
  });

  it('a typed-code try the first (address) budget refuses takes nothing from the account budget after it', async () => {
    const limiter = new RateLimiter(new MemoryStore().counters, settings);
    const now = 1_800_000_000_000;
    for (let i = 0; i < 3; i += 1) expect(await guessWrong(limiter, ['address:a@x.com', 'user:1'], now)).to.equal(true);
    expect(await guessNotWrong(limiter, ['address:a@x.com', 'user:1'], now)).to.equal(true);
    for (let i = 0; i < 4; i += 1) expect(await guessWrong(limiter, ['address:other@x.com'], now)).to.equal(true);
    for (let i = 0; i < 10; i += 1) expect(await guessWrong(limiter, ['address:other@x.com', 'user:1'], now)).to.equal(false);
    // user:1 spent three tries of four; the ten refused by the address budget took none of it.
    expect(await guessWrong(limiter, ['user:1'], now)).to.equal(true);
    expect(await guessWrong(limiter, ['user:1'], now)).to.equal(false);
  });

  it('gives at most the budget of 20 concurrent tries, and gives back a try that was not wrong', async () => {
    const limiter = new RateLimiter(new MemoryStore().counters, settings);
    const now = 1_800_000_000_000;
    const decisions = await Promise.all(Array.from({ length: 20 }, () => guessWrong(limiter, ['address', 'user-1'], now)));
    expect(decisions.filter(Boolean)).to.have.length(4);
    const fresh = new RateLimiter(new MemoryStore().counters, settings);
    for (let i = 0; i < 3; i += 1) await guessWrong(fresh, ['user-1'], now);
    expect(await guessNotWrong(fresh, ['user-1'], now)).to.equal(true);
    expect(await guessWrong(fresh, ['user-1'], now)).to.equal(true);
    expect(await guessWrong(fresh, ['user-1'], now)).to.equal(false);
  });

  describe('withCodeTry', () => {
    const wrong: TypedCodeResult = { ok: false, problem: 'wrong', attemptsLeft: 3 };
    const used: TypedCodeResult = { ok: false, problem: 'used' };

    it('takes the try before the attempt compares the code, and runs no attempt once the budget is spent', async () => {
      const limiter = new RateLimiter(new MemoryStore().counters, { ...settings, typedCodesPerAccount: { limit: 1, windowSeconds: 3600 } });
      const now = 1_800_000_000_000;
      let seenInside: boolean | null = null;
      const first = await limiter.withCodeTry(['user-1'], async () => {
        // A guess arriving while this one is compared finds the budget already taken.
        seenInside = await guessWrong(limiter, ['user-1'], now);
        return wrong;
      }, now);
      expect(first).to.deep.equal({ allowed: true, result: wrong });
      expect(seenInside, 'a concurrent try during the comparison').to.equal(false);
      let ran = false;
      const refused = await limiter.withCodeTry(['user-1'], async () => {
        ran = true;
        return used;
      }, now);
      expect(refused).to.deep.include({ allowed: false, rule: 'typedCodesPerAccount' });
      expect(ran, 'the attempt of a refused try').to.equal(false);
    });

    it('gives the try back from every budget unless the code was wrong, and keeps it when the attempt throws', async () => {
      const limiter = new RateLimiter(new MemoryStore().counters, { ...settings, typedCodesPerAccount: { limit: 2, windowSeconds: 3600 } });
      const now = 1_800_000_000_000;
      for (let i = 0; i < 5; i += 1) expect(await limiter.withCodeTry(['address:a@x.com', 'user:1'], async () => used, now)).to.deep.equal({ allowed: true, result: used });
      // A throw has no verdict and may come after the comparison: the try stays taken (fail closed).
      let thrown: unknown = null;
      await limiter.withCodeTry(['address:a@x.com', 'user:1'], async () => Promise.reject(new Error('store down')), now).catch((err: unknown) => (thrown = err));
      expect(thrown).to.be.an('error');
      expect(await limiter.withCodeTry(['address:a@x.com', 'user:1'], async () => ({ ok: false, problem: 'exhausted' }), now)).to.have.property('allowed', true);
      expect(await limiter.withCodeTry(['user:1'], async () => used, now), 'the account budget too').to.deep.include({ allowed: false });
      expect(await limiter.withCodeTry(['address:a@x.com'], async () => used, now)).to.deep.include({ allowed: false });
    });
  });

  describe('withTry (the typed codes and the second factor)', () => {
    const now = 1_800_000_000_000;
    const twoTries: RateCheck[] = [['narrow', 'test:narrow', { limit: 2, windowSeconds: 60 }], ['wide', 'test:wide', { limit: 3, windowSeconds: 60 }]];
    const isWrong = (answer: string | null) => answer === null;

    it('takes a try from each budget before the attempt runs, keeps it for a wrong answer, gives it back for any other', async () => {
      const { counters } = new MemoryStore();
      let seenInside: unknown = null;
      const first = await withTry(counters, twoTries, async () => {
        seenInside = await counters.get('test:narrow:1800000000000', now);
        return null;
      }, isWrong, now);
      expect(first).to.deep.equal({ allowed: true, result: null });
      expect(seenInside, 'the narrow budget, while the attempt runs').to.equal(1);
      for (let i = 0; i < 5; i += 1) expect(await withTry(counters, twoTries, async () => 'otp', isWrong, now)).to.deep.equal({ allowed: true, result: 'otp' });
      expect(await withTry(counters, twoTries, async () => null, isWrong, now)).to.have.property('allowed', true);
      let ran = false;
      const refused = await withTry(counters, twoTries, async () => { ran = true; return 'otp'; }, isWrong, now);
      expect(refused).to.deep.include({ allowed: false, rule: 'narrow' });
      expect(ran, 'the attempt of a refused try').to.equal(false);
      // The refusal counted on the narrow budget only: the wide one holds the two wrong answers.
      expect(await counters.get('test:wide:1800000000000', now)).to.equal(2);
    });

    it('counts nothing without checks (rate limits off)', async () => {
      const { counters } = new MemoryStore();
      for (let i = 0; i < 10; i += 1) expect(await withTry(counters, [], async () => null, isWrong, now)).to.deep.equal({ allowed: true, result: null });
    });
  });

  it('gives back, from every send budget, an email that was not sent', async () => {
    const limiter = new RateLimiter(new MemoryStore().counters, settings);
    const now = 1_800_000_000_000;
    // 20 sends counted and given back (the mail server was down): the IP (5), the address (3) and everyone (100) kept their budget.
    for (let i = 0; i < 20; i += 1) {
      expect((await limiter.allowSend('a@x.com', '10.6.0.1', now)).allowed).to.equal(true);
      await limiter.refundSend('a@x.com', '10.6.0.1', now);
    }
    for (let i = 0; i < 3; i += 1) expect((await limiter.allowSend('a@x.com', '10.6.0.1', now)).allowed).to.equal(true);
    expect(await limiter.allowSend('a@x.com', '10.6.0.1', now)).to.deep.include({ allowed: false, rule: 'sendPerAddress' });
  });

  describe('the sends of one code (perCode)', () => {
    const now = 1_800_000_000_000;
    const cap = { key: 'api-send:code-1', limit: 3, expiresAt: now + 600_000 };

    it('caps the sends of a code, counted first, and a send it refuses stays uncounted and takes nothing of the address', async () => {
      const limiter = new RateLimiter(new MemoryStore().counters, { ...settings, sendPerAddress: { limit: 10, windowSeconds: 900 } });
      for (let i = 0; i < 3; i += 1) expect((await limiter.allowSend('a@x.com', null, now, cap)).allowed).to.equal(true);
      for (let i = 0; i < 5; i += 1) expect(await limiter.allowSend('a@x.com', null, now, cap)).to.deep.include({ allowed: false, rule: SENDS_PER_CODE_RULE });
      // One of the three given back (the mail server was down): the code has one send again.
      await limiter.refundSend('a@x.com', null, now, cap);
      expect((await limiter.allowSend('a@x.com', null, now, cap)).allowed).to.equal(true);
      expect((await limiter.allowSend('a@x.com', null, now, cap)).allowed).to.equal(false);
      // The address counts the three sends that stand (the refund gave one back): seven of its ten are left.
      for (let i = 0; i < 7; i += 1) expect((await limiter.allowSend('a@x.com', null, now)).allowed).to.equal(true);
      expect(await limiter.allowSend('a@x.com', null, now)).to.deep.include({ allowed: false, rule: 'sendPerAddress' });
    });

    it('gives the send of the code back when a later limit refuses it', async () => {
      const limiter = new RateLimiter(new MemoryStore().counters, { ...settings, sendPerAddress: { limit: 1, windowSeconds: 900 } });
      expect((await limiter.allowSend('a@x.com', null, now, cap)).allowed).to.equal(true);
      for (let i = 0; i < 5; i += 1) expect(await limiter.allowSend('a@x.com', null, now, cap)).to.deep.include({ allowed: false, rule: 'sendPerAddress' });
      // The next window: the code still has its two other sends.
      const later = now + 900_000;
      for (let i = 0; i < 2; i += 1) expect((await limiter.allowSend(`b${i}@x.com`, null, later, cap)).allowed).to.equal(true);
      expect(await limiter.allowSend('c@x.com', null, later, cap)).to.deep.include({ allowed: false, rule: SENDS_PER_CODE_RULE });
    });

    it('holds with rate limits off', async () => {
      const limiter = new RateLimiter(new MemoryStore().counters, { ...settings, enabled: false });
      for (let i = 0; i < 3; i += 1) expect((await limiter.allowSend('a@x.com', null, now, cap)).allowed).to.equal(true);
      expect(await limiter.allowSend('a@x.com', null, now, cap)).to.deep.include({ allowed: false, rule: SENDS_PER_CODE_RULE });
    });
  });

  it('does nothing when disabled', async () => {
    const limiter = new RateLimiter(new MemoryStore().counters, { ...settings, enabled: false });
    for (let i = 0; i < 10; i += 1) expect((await limiter.allowSend('a@x.com', '10.3.0.1')).allowed).to.equal(true);
  });
});

describe('who a client address is for per-IP budgets', () => {
  it('keeps an IPv4 address as it is, an IPv4-mapped IPv6 one too', () => {
    expect(ipBudgetSubject('203.0.113.7')).to.equal('203.0.113.7');
    expect(ipBudgetSubject('::ffff:203.0.113.7')).to.equal('203.0.113.7');
  });

  it('keys an IPv6 address by its /64, however it is written', () => {
    const subject = ipBudgetSubject('2001:db8:1:2::1');
    expect(subject).to.equal('2001:db8:1:2::/64');
    for (const same of ['2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:0db8:0001:0002:0:0:0:9', '2001:DB8:1:2::abcd%eth0']) expect(ipBudgetSubject(same), same).to.equal(subject);
    for (const other of ['2001:db8:1:3::1', '2001:db8::1', '::1']) expect(ipBudgetSubject(other), other).to.not.equal(subject);
    expect(ipBudgetSubject('::1')).to.equal('0:0:0:0::/64');
  });

  it('counts two addresses of one /64 against one per-IP budget', async () => {
    const limiter = new RateLimiter(new MemoryStore().counters, { ...settings, sendPerIp: { limit: 1, windowSeconds: 900 } });
    expect((await limiter.allowSend('a@example.com', '2001:db8:1:2::1')).allowed).to.equal(true);
    expect((await limiter.allowSend('b@example.com', '2001:db8:1:2::2')).allowed).to.equal(false);
    expect((await limiter.allowSend('c@example.com', '2001:db8:1:3::1')).allowed).to.equal(true);
  });
});
