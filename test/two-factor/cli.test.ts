import { expect } from 'chai';
import { Secret, TOTP } from 'otpauth';
import { runCli } from '../../src/cli.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { createUser } from '../../src/accounts/admin.js';

describe('command line: users 2fa', () => {
  it('enable prints the otpauth URI and ten recovery codes once; disable removes the authenticator', async () => {
    process.env.LOG_LEVEL ??= 'silent';
    const store = new MemoryStore();
    const user = await createUser(store.users, { email: 'cli-2fa@example.com' });
    let output = '';
    const run = (...args: string[]) => runCli(args, { store, out: (t) => (output += t), err: (t) => (output += t) });

    expect(await run('users', '2fa', 'enable', user.email)).to.equal(0);
    const uri = /otpauth:\/\/totp\/\S+/.exec(output)?.[0];
    expect(uri, output).to.be.a('string');
    const parsed = new URL(uri!);
    expect(parsed.searchParams.get('algorithm')).to.equal('SHA1');
    expect(parsed.searchParams.get('digits')).to.equal('6');
    expect(parsed.searchParams.get('period')).to.equal('30');
    const codes = output.match(/^ {2}[A-Z2-9]{5}-[A-Z2-9]{5}$/gm) ?? [];
    expect(codes).to.have.length(10);
    const stored = await store.twoFactor.findByUser(user.id);
    expect(stored!.sealedSecret).to.not.include(parsed.searchParams.get('secret'));
    expect((await store.users.findById(user.id))!.twoFactor!.methods).to.have.length(1);
    expect(TOTP.generate({ secret: Secret.fromBase32(parsed.searchParams.get('secret')!) })).to.match(/^\d{6}$/);

    output = '';
    expect(await run('users', '2fa', 'enable', user.email)).to.equal(1);
    expect(output).to.include('already has an authenticator');
    expect(await run('users', '2fa', 'disable', user.email)).to.equal(0);
    expect(await store.twoFactor.findByUser(user.id)).to.equal(null);
    expect((await store.users.findById(user.id))!.twoFactor!.methods).to.deep.equal([]);
    expect(await run('users', '2fa', 'disable', user.email)).to.equal(1);
    expect(await run('users', '2fa', 'nope', user.email)).to.equal(2);
  });
});
