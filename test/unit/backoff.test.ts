import { expect } from 'chai';
import { backoffDelay } from '../../src/backoff.js';

describe('retry backoff', () => {
  it('doubles from the initial wait up to the maximum, spread within the jitter', () => {
    const settings = { initialMs: 100, maxMs: 1000, jitter: 0.25 };
    for (let i = 0; i < 200; i += 1) {
      expect(backoffDelay(1, settings)).to.be.within(75, 125);
      expect(backoffDelay(3, settings)).to.be.within(300, 500);
      expect(backoffDelay(10, settings), 'capped').to.be.within(750, 1250);
    }
    const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(2, { initialMs: 1000, maxMs: 10_000, jitter: 0.5 })));
    expect(spread.size, 'instances that failed together do not retry together').to.be.greaterThan(10);
  });
});
