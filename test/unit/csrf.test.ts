import { expect } from 'chai';
import { CsrfTokens } from '../../src/http/csrf.js';

describe('form tokens', () => {
  const OLD_KEY = 'an-older-cookie-key-still-in-the-list';
  const NEW_KEY = 'the-newest-cookie-key-signs-new-tokens';

  it('gives every rendered form a token of its own, valid for its purpose and sign-in only', () => {
    const tokens = new CsrfTokens([NEW_KEY]);
    const first = tokens.issue('email', 'uid-1');
    const second = tokens.issue('email', 'uid-1');
    expect(first).to.not.equal(second);
    for (const token of [first, second]) expect(tokens.verify('email', 'uid-1', token)).to.equal(true);
    expect(tokens.verify('code', 'uid-1', first), 'another form').to.equal(false);
    expect(tokens.verify('email', 'uid-2', first), 'another sign-in').to.equal(false);
  });

  it('refuses a nonce moved onto another token, a token with parts added or missing, and anything not a string', () => {
    const tokens = new CsrfTokens([NEW_KEY]);
    const [nonceA, macA] = tokens.issue('email', 'uid-1').split('.');
    const [nonceB, macB] = tokens.issue('email', 'uid-1').split('.');
    expect(tokens.verify('email', 'uid-1', `${nonceA}.${macB}`)).to.equal(false);
    expect(tokens.verify('email', 'uid-1', `${nonceB}.${macA}`)).to.equal(false);
    expect(tokens.verify('email', 'uid-1', `${nonceA}.${macA}.x`)).to.equal(false);
    expect(tokens.verify('email', 'uid-1', macA)).to.equal(false);
    expect(tokens.verify('email', 'uid-1', `.${macA}`)).to.equal(false);
    for (const junk of [undefined, null, 42, ['a'], '', 'x'.repeat(500)]) expect(tokens.verify('email', 'uid-1', junk)).to.equal(false);
  });

  it('still takes a form rendered before a cookie-key rotation, and signs new ones with the newest key', () => {
    const before = new CsrfTokens([OLD_KEY]).issue('email', 'uid-1');
    const rotated = new CsrfTokens([NEW_KEY, OLD_KEY]);
    expect(rotated.verify('email', 'uid-1', before)).to.equal(true);
    const after = rotated.issue('email', 'uid-1');
    expect(new CsrfTokens([NEW_KEY]).verify('email', 'uid-1', after)).to.equal(true);
    expect(new CsrfTokens([OLD_KEY]).verify('email', 'uid-1', after), 'not signed with the old key').to.equal(false);
  });
});
