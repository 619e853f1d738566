import { expect } from 'chai';
import Provider from 'oidc-provider';
import { magicLink, MagicLinkOptionsError, type MagicLinkOptions } from '../../src/index.js';
import { captureLogEvents } from '../helpers/logs.js';

const minimal: MagicLinkOptions = {
  findAccountByEmail: async () => undefined,
  mail: { send: async () => undefined },
};

function refusal(options: unknown): MagicLinkOptionsError {
  try {
    magicLink(options as MagicLinkOptions);
  } catch (err) {
    expect(err).to.be.instanceOf(MagicLinkOptionsError);
    return err as MagicLinkOptionsError;
  }
  throw new Error('magicLink() accepted the options');
}

describe('magicLink() options', () => {
  it('accepts the two required options alone', () => {
    const ml = magicLink(minimal);
    expect(ml.interactions().policy.get('login')).to.not.equal(undefined);
  });

  it('names a missing required option', () => {
    expect(refusal({ mail: minimal.mail }).option).to.equal('findAccountByEmail');
    expect(refusal({ findAccountByEmail: minimal.findAccountByEmail }).option).to.equal('mail');
  });

  it('names the bad option and says why, in the message too', () => {
    const err = refusal({ ...minimal, timeToLiveInSeconds: 900 });
    expect(err.option).to.equal('timeToLiveInSeconds');
    expect(err.message).to.match(/^oidc-magic-link: option timeToLiveInSeconds /);
    expect(refusal({ ...minimal, rateLimits: { sendPerIp: { limit: 0, windowSeconds: 60 } } }).option).to.equal('rateLimits.sendPerIp.limit');
    expect(refusal({ ...minimal, shortCode: { generator: 'randomDigits', length: 40 } }).option).to.equal('shortCode.length');
    expect(refusal({ ...minimal, keys: ['short'] }).option).to.equal('keys.0');
  });

  it('refuses an option it does not have, by name (a typo must not pass as a default)', () => {
    const err = refusal({ ...minimal, timeToLiveSeconds: 60 });
    expect(err.option).to.equal('timeToLiveSeconds');
    expect(err.message).to.include('is not an option');
  });

  it('needs exactly one way to send mail, and a From address for SMTP', () => {
    expect(refusal({ ...minimal, mail: {} }).message).to.include('exactly one of smtpUrl, transport or send');
    expect(refusal({ ...minimal, mail: { send: async () => undefined, smtpUrl: 'smtp://localhost' } }).option).to.equal('mail');
    expect(refusal({ ...minimal, mail: { smtpUrl: 'smtp://localhost:25' } }).option).to.equal('mail.from');
    expect(refusal({ ...minimal, mail: { smtpUrl: 'http://localhost', from: 'a@b.c' } }).option).to.equal('mail.smtpUrl');
    expect(refusal({ ...minimal, mail: { transport: {}, from: 'a@b.c' } }).option).to.equal('mail.transport');
  });

  it('checks the shape of a second factor and of a store', () => {
    expect(refusal({ ...minimal, secondFactor: { verify: async () => 'wrong' } }).option).to.equal('secondFactor');
    expect(refusal({ ...minimal, store: { codes: {}, counters: {} } }).option).to.equal('store.codes');
  });

  it('puts the two-factor prompt after login only when a second factor is given', () => {
    const names = (ml: ReturnType<typeof magicLink>) => [...ml.policy()].map((prompt) => prompt.name);
    expect(names(magicLink(minimal))).to.deep.equal(['login', 'consent']);
    expect(names(magicLink({ ...minimal, secondFactor: { secretOf: async () => undefined } }))).to.deep.equal(['login', 'two_factor', 'consent']);
  });

  it('says at mount when it runs without a second factor, and not when it has one', async () => {
    const mountWith = (options: MagicLinkOptions) => {
      const ml = magicLink(options);
      ml.mount(new Provider('http://localhost:9', { interactions: ml.interactions(), features: { devInteractions: { enabled: false } } }));
    };
    expect(await captureLogEvents('info', async () => mountWith(minimal), 'magic_link.second_factor_off')).to.have.length(1);
    expect(await captureLogEvents('info', async () => mountWith({ ...minimal, secondFactor: { secretOf: async () => undefined } }), 'magic_link.second_factor_off')).to.have.length(0);
  });

  it('wants mount() before signInForm(), and one provider per plugin', () => {
    expect(() => magicLink(minimal).signInForm('uid')).to.throw(/mount\(provider\) first/);
    const ml = magicLink(minimal);
    const provider = new Provider('http://localhost:9/oidc', { interactions: ml.interactions(), features: { devInteractions: { enabled: false } } });
    ml.mount(provider);
    expect(ml.signInForm('abc').action).to.equal('/oidc/interaction/abc/email');
    expect(() => ml.mount(provider)).to.throw(/mount\(\) was called already/);
  });
});
