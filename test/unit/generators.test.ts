import { expect } from 'chai';
import { deriveShortCode, generateCode, linkCodeEntropyBits, randomBase64url, typedCodeAsIssued } from '../../src/passwordless/generators.js';

describe('code generators', () => {
  it('randomBytes yields base64url of the configured number of bytes', () => {
    const code = generateCode({ generator: 'randomBytes', length: 32 });
    expect(code).to.match(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(code, 'base64url')).to.have.length(32);
  });

  for (const [generator, pattern] of [
    ['randomDigits', /^[0-9]{12}$/],
    ['randomAlpha', /^[A-Za-z]{12}$/],
    ['randomAlphaNumeric', /^[A-Za-z0-9]{12}$/],
  ] as const) {
    it(`${generator} draws only from its alphabet, at the configured length`, () => {
      for (let i = 0; i < 200; i += 1) expect(generateCode({ generator, length: 12 })).to.match(pattern);
    });
  }

  it('does not repeat itself', () => {
    const codes = new Set(Array.from({ length: 1000 }, () => generateCode({ generator: 'randomBytes', length: 16 })));
    expect(codes.size).to.equal(1000);
  });

  it('draws fresh, evenly spread bytes across many refills of its pool (never the zeroed, already drawn ones)', () => {
    // 40 KiB in draws of odd sizes: the 4 KiB pool is refilled ten times, at varying offsets.
    const draws = Array.from({ length: 1300 }, (_, i) => randomBase64url(i % 2 === 0 ? 32 : 31));
    expect(new Set(draws).size).to.equal(draws.length);
    const counts = new Array<number>(256).fill(0);
    for (const draw of draws) for (const byte of Buffer.from(draw, 'base64url')) counts[byte]! += 1;
    // ≈ 159 of each byte value expected; a run of zeroed bytes would push 0 far above the rest.
    for (const count of counts) expect(count).to.be.within(90, 240);
    expect(Buffer.from(randomBase64url(10_000), 'base64url')).to.have.length(10_000);
  });

  it('uses every digit about equally often (no modulo bias worth the name)', () => {
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 2000; i += 1) for (const ch of generateCode({ generator: 'randomDigits', length: 10 })) counts[Number(ch)]! += 1;
    for (const count of counts) expect(count).to.be.within(1600, 2400);
  });

  it('computes the entropy that the 128-bit floor is checked against', () => {
    expect(linkCodeEntropyBits({ generator: 'randomBytes', length: 16 })).to.equal(128);
    expect(linkCodeEntropyBits({ generator: 'randomDigits', length: 12 })).to.be.below(40);
    expect(linkCodeEntropyBits({ generator: 'randomAlphaNumeric', length: 12 })).to.be.closeTo(71.45, 0.01);
  });

  it('derives the short code from the link code: stable, in the alphabet, unrelated for different links', () => {
    const config = { generator: 'randomDigits', length: 6 } as const;
    const link = generateCode({ generator: 'randomBytes', length: 32 });
    expect(deriveShortCode(link, config)).to.equal(deriveShortCode(link, config)).and.match(/^\d{6}$/);
    const others = new Set(Array.from({ length: 500 }, () => deriveShortCode(generateCode({ generator: 'randomBytes', length: 32 }), config)));
    expect(others.size, '500 links give (almost) 500 different codes').to.be.above(490);
    expect(deriveShortCode(link, { generator: 'randomAlpha', length: 8 })).to.match(/^[A-Za-z]{8}$/);
  });

  it('reads a typed code as issued: spaces and hyphens inside it go, unless the alphabet has them', () => {
    const digits = { generator: 'randomDigits', length: 6 } as const;
    for (const typed of ['816754', '816 754', '816-754', ' 816 - 754 ', '8 1 6 7 5 4', '816\u00a0754']) expect(typedCodeAsIssued(typed, digits), typed).to.equal('816754');
    expect(typedCodeAsIssued('abC-dEf', { generator: 'randomAlpha', length: 6 })).to.equal('abCdEf');
    expect(typedCodeAsIssued('a1b 2c3', { generator: 'randomAlphaNumeric', length: 6 })).to.equal('a1b2c3');
    // base64url has '-': it is part of the code and stays; a space is not.
    expect(typedCodeAsIssued('aB-_ x9', { generator: 'randomBytes', length: 6 })).to.equal('aB-_x9');
  });
});
