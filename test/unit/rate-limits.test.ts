import { expect } from 'chai';
import { MemoryStore } from '../../src/storage/memory.js';
import { RateLimiter, type RateLimitSettings } from '../../src/passwordless/rate-limits.js';

const settings: RateLimitSettings = {
  enabled: true,
  sendPerAddress: { limit: 3, windowSeconds: 900 },
  sendPerIp: { limit: 5, windowSeconds: 900 },
  sendGlobal: { limit: 100, windowSeconds: 60 },
  typedCodesPerAccount: { limit: 4, windowSeconds: 3600 },
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
    for (let i = 0; i < 5; i += 1) expect((await limiter.allowSend(`u${i}@x.com`, '10.1.1.1')).allowed).to.equal(true);
    expect(await limiter.allowSend('u9@x.com', '10.1.1.1')).to.deep.include({ allowed: false, rule: 'sendPerIp' });
  });

  it('caps all sends together with the global ceiling, whatever the address and IP', async () => {
    const limiter = new RateLimiter(new MemoryStore().counters, { ...settings, sendGlobal: { limit: 4, windowSeconds: 60 } });
    const now = 1_800_000_000_000;
    for (let i = 0; i < 4; i += 1) expect((await limiter.allowSend(`g${i}@x.com`, `10.9.${i}.1`, now)).allowed).to.equal(true);
    const denied = await limiter.allowSend('fresh@x.com', '10.9.99.1', now);
    expect(denied).to.deep.include({ allowed: false, rule: 'sendGlobal' });
    expect((denied as { retryAfterSeconds: number }).retryAfterSeconds).to.be.within(1, 60);
  });

  it('opens again in the next window', async () => {
    const limiter = new RateLimiter(new MemoryStore().counters, settings);
    const start = 1_800_000_000_000 - (1_800_000_000_000 % 900_000);
    for (let i = 0; i < 4; i += 1) await limiter.allowSend('a@x.com', `10.2.0.${i}`, start);
    expect((await limiter.allowSend('a@x.com', '10.2.1.1', start)).allowed).to.equal(false);
    expect((await limiter.allowSend('a@x.com', '10.2.1.1', start + 900_000)).allowed).to.equal(true);
  });

  it('takes typed-code tries per account across codes, before they are checked', async () => {
    const limiter = new RateLimiter(new MemoryStore().counters, settings);
    for (let i = 0; i < 4; i += 1) expect((await limiter.spendCodeTry(['user-1'])).allowed).to.equal(true);
    expect((await limiter.spendCodeTry(['user-1'])).allowed).to.equal(false);
    expect((await limiter.spendCodeTry(['user-2'])).allowed).to.equal(true);
  });

  it('gives at most the budget of 20 concurrent tries, and refunds a try that was not wrong', async () => {
    const limiter = new RateLimiter(new MemoryStore().counters, settings);
    const decisions = await Promise.all(Array.from({ length: 20 }, () => limiter.spendCodeTry(['address', 'user-1'])));
    expect(decisions.filter((d) => d.allowed)).to.have.length(4);
    const fresh = new RateLimiter(new MemoryStore().counters, settings);
    for (let i = 0; i < 4; i += 1) await fresh.spendCodeTry(['user-1']);
    await fresh.refundCodeTry(['user-1']);
    expect((await fresh.spendCodeTry(['user-1'])).allowed).to.equal(true);
    expect((await fresh.spendCodeTry(['user-1'])).allowed).to.equal(false);
  });

  it('does nothing when disabled', async () => {
    const limiter = new RateLimiter(new MemoryStore().counters, { ...settings, enabled: false });
    for (let i = 0; i < 10; i += 1) expect((await limiter.allowSend('a@x.com', '10.3.0.1')).allowed).to.equal(true);
  });
});
