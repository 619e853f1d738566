import { expect } from 'chai';
import { decodeJwt } from 'jose';
import { ADMIN_KEY, START_KEY, call, login, start, startApiServer } from '../api/helpers.js';
import type { TestServer } from '../helpers/server.js';
import { enrolledUser, plainUser, totpCode, wrongTotpCodes } from './helpers.js';

describe('two-factor REST API', () => {
  let server: TestServer;

  before(async () => {
    server = await startApiServer();
  });
  after(() => server.stop());

  async function linkCode(email: string): Promise<string> {
    const started = await start(server, { applicationId: 'web', loginId: email, state: { from: 'test' } });
    expect(started.status).to.equal(200);
    return started.json!.code as string;
  }

  const twoFactorLogin = (body: Record<string, unknown>) => call(server, 'POST', '/api/two-factor/login', { body });

  it('hands out a secret, enrols with a current code, shows the method on the user and stores the secret sealed', async () => {
    const secret = await call(server, 'GET', '/api/two-factor/secret', { key: ADMIN_KEY });
    expect(secret.json!.secretBase32Encoded).to.match(/^[A-Z2-7]{32}$/);
    expect(Buffer.from(secret.json!.secret as string, 'base64')).to.have.length(20);
    expect((await call(server, 'GET', '/api/two-factor/secret', { key: START_KEY })).status).to.equal(401);

    const user = await plainUser(server);
    const wrong = await call(server, 'POST', `/api/user/two-factor/${user.id}`, { key: ADMIN_KEY, body: { method: 'authenticator', code: wrongTotpCodes(secret.json!.secretBase32Encoded)[0], secretBase32Encoded: secret.json!.secretBase32Encoded } });
    expect(wrong.status).to.equal(400);
    expect(wrong.json!.fieldErrors.code[0].code).to.equal('[invalid]code');

    const enrolled = await enrolledUser(server);
    expect(enrolled.recoveryCodes).to.have.length(10);
    expect(new Set(enrolled.recoveryCodes).size).to.equal(10);
    const shown = await call(server, 'GET', `/api/user/${enrolled.id}`, { key: ADMIN_KEY });
    expect(shown.json!.user.twoFactor.methods).to.have.length(1);
    expect(shown.json!.user.twoFactor.methods[0]).to.include({ method: 'authenticator' });
    expect(shown.text).to.not.include(enrolled.secret);
    const stored = await server.app.store.twoFactor.findByUser(enrolled.id);
    expect(stored!.sealedSecret).to.not.include(enrolled.secret);
    expect(JSON.stringify(stored)).to.not.include(enrolled.recoveryCodes[0]!.replace('-', ''));

    const again = await call(server, 'POST', `/api/user/two-factor/${enrolled.id}`, { key: ADMIN_KEY, body: { method: 'authenticator', code: totpCode(enrolled.secret), secretBase32Encoded: enrolled.secret } });
    expect(again.status).to.equal(400);
  });

  it('answers 242 for a user with an authenticator, then 421 for a wrong code, 200 with a token for the right one, and 404 after', async () => {
    const user = await enrolledUser(server);
    const first = await login(server, { code: await linkCode(user.email), applicationId: 'web' });
    expect(first.status).to.equal(242);
    expect(first.json!.twoFactorId).to.be.a('string');
    expect(first.json!.methods).to.deep.equal([{ id: first.json!.methods[0].id, method: 'authenticator' }]);
    expect(first.json).to.not.have.property('token');

    expect((await twoFactorLogin({ twoFactorId: first.json!.twoFactorId, code: wrongTotpCodes(user.secret)[0] })).status).to.equal(421);
    expect((await twoFactorLogin({ twoFactorId: 'no-such-id', code: totpCode(user.secret) })).status).to.equal(404);
    const done = await twoFactorLogin({ twoFactorId: first.json!.twoFactorId, code: totpCode(user.secret), applicationId: 'web' });
    expect(done.status, done.text).to.equal(200);
    expect(decodeJwt(done.json!.token as string)).to.include({ sub: user.id, aud: 'web' });
    expect(done.json!.refreshToken).to.be.a('string');
    expect(done.json!.user.id).to.equal(user.id);
    expect(done.json!.state).to.deep.equal({ from: 'test' });
    expect(done.json).to.not.have.property('twoFactorTrustId');

    expect((await twoFactorLogin({ twoFactorId: first.json!.twoFactorId, code: totpCode(user.secret, 1) })).status, 'a twoFactorId is spent').to.equal(404);
  });

  it('answers 400 to an unknown applicationId without spending the twoFactorId or the code', async () => {
    const user = await enrolledUser(server);
    const first = await login(server, { code: await linkCode(user.email) });
    expect(first.status).to.equal(242);
    const code = totpCode(user.secret);
    const refused = await twoFactorLogin({ twoFactorId: first.json!.twoFactorId, code, applicationId: 'nope' });
    expect(refused.status).to.equal(400);
    expect(refused.json!.fieldErrors.applicationId[0].code).to.equal('[invalid]applicationId');
    const done = await twoFactorLogin({ twoFactorId: first.json!.twoFactorId, code, applicationId: 'web' });
    expect(done.status, done.text).to.equal(200);
    expect(decodeJwt(done.json!.token as string)).to.include({ sub: user.id, aud: 'web' });
  });

  it('refuses a replayed code in its window', async () => {
    const user = await enrolledUser(server);
    const code = totpCode(user.secret);
    const one = await login(server, { code: await linkCode(user.email) });
    expect((await twoFactorLogin({ twoFactorId: one.json!.twoFactorId, code })).status).to.equal(200);
    const two = await login(server, { code: await linkCode(user.email) });
    expect((await twoFactorLogin({ twoFactorId: two.json!.twoFactorId, code })).status).to.equal(421);
  });

  it('voids a twoFactorId after 5 wrong codes', async () => {
    const user = await enrolledUser(server);
    const first = await login(server, { code: await linkCode(user.email) });
    const statuses: number[] = [];
    for (const code of wrongTotpCodes(user.secret, 5)) statuses.push((await twoFactorLogin({ twoFactorId: first.json!.twoFactorId, code })).status);
    // Node's fetch resends a request answered 421 once; the resent fifth answer already finds the id void.
    expect(statuses.slice(0, 4)).to.deep.equal([421, 421, 421, 421]);
    expect(statuses[4]).to.be.oneOf([421, 404]);
    expect((await twoFactorLogin({ twoFactorId: first.json!.twoFactorId, code: totpCode(user.secret) })).status).to.equal(404);
  });

  it('takes a recovery code once', async () => {
    const user = await enrolledUser(server);
    const recovery = user.recoveryCodes[3]!;
    const one = await login(server, { code: await linkCode(user.email) });
    expect((await twoFactorLogin({ twoFactorId: one.json!.twoFactorId, code: recovery.toLowerCase() })).status).to.equal(200);
    const two = await login(server, { code: await linkCode(user.email) });
    expect((await twoFactorLogin({ twoFactorId: two.json!.twoFactorId, code: recovery })).status).to.equal(421);
    expect((await twoFactorLogin({ twoFactorId: two.json!.twoFactorId, code: user.recoveryCodes[4]! })).status).to.equal(200);
  });

  it('returns a twoFactorTrustId that skips the 242 for that user only, until the authenticator is removed', async () => {
    const user = await enrolledUser(server);
    const other = await enrolledUser(server);
    const first = await login(server, { code: await linkCode(user.email) });
    const done = await twoFactorLogin({ twoFactorId: first.json!.twoFactorId, code: totpCode(user.secret), trustComputer: true });
    expect(done.status).to.equal(200);
    const trustId = done.json!.twoFactorTrustId as string;
    expect(trustId).to.be.a('string');

    const trusted = await login(server, { code: await linkCode(user.email), applicationId: 'web', twoFactorTrustId: trustId });
    expect(trusted.status, 'trusted: no second factor').to.equal(200);
    expect(trusted.json!.token).to.be.a('string');
    expect((await login(server, { code: await linkCode(other.email), twoFactorTrustId: trustId })).status, 'another user').to.equal(242);

    const methodId = (await server.app.store.twoFactor.findByUser(user.id))!.methodId;
    expect((await call(server, 'DELETE', `/api/user/two-factor/${user.id}?methodId=nope`, { key: ADMIN_KEY })).status).to.equal(400);
    expect((await call(server, 'DELETE', `/api/user/two-factor/${user.id}`, { key: ADMIN_KEY })).status).to.equal(400);
    expect((await call(server, 'DELETE', `/api/user/two-factor/${user.id}?methodId=${methodId}`, { key: ADMIN_KEY })).status).to.equal(200);
    expect((await call(server, 'GET', `/api/user/${user.id}`, { key: ADMIN_KEY })).json!.user.twoFactor.methods).to.deep.equal([]);
    expect((await login(server, { code: await linkCode(user.email) })).status, 'no authenticator: no 242').to.equal(200);

    const secret = (await call(server, 'GET', '/api/two-factor/secret', { key: ADMIN_KEY })).json!.secretBase32Encoded as string;
    expect((await call(server, 'POST', `/api/user/two-factor/${user.id}`, { key: ADMIN_KEY, body: { method: 'authenticator', code: totpCode(secret), secretBase32Encoded: secret } })).status).to.equal(200);
    expect((await login(server, { code: await linkCode(user.email), twoFactorTrustId: trustId })).status, 'removing the authenticator revoked the trust').to.equal(242);
  });

  it('deleting the user deletes their authenticator and trusted devices too', async () => {
    const user = await enrolledUser(server);
    const first = await login(server, { code: await linkCode(user.email) });
    const done = await twoFactorLogin({ twoFactorId: first.json!.twoFactorId, code: totpCode(user.secret), trustComputer: true });
    expect(done.json!.twoFactorTrustId).to.be.a('string');
    expect(await server.app.store.twoFactor.findByUser(user.id)).to.not.equal(null);

    expect((await call(server, 'DELETE', `/api/user/${user.id}?hardDelete=true`, { key: ADMIN_KEY })).status).to.equal(200);
    expect(await server.app.store.twoFactor.findByUser(user.id), 'the sealed secret is gone').to.equal(null);
    expect(await server.app.store.twoFactorTrusts.deleteByUser(user.id), 'no trusted device is left').to.equal(0);
  });

  it("deleting the user voids their login waiting for its second factor, so a later user given the same id cannot finish it", async () => {
    const user = await enrolledUser(server);
    const first = await login(server, { code: await linkCode(user.email) });
    expect(first.status).to.equal(242);
    expect((await call(server, 'DELETE', `/api/user/${user.id}?hardDelete=true`, { key: ADMIN_KEY })).status).to.equal(200);
    // The newcomer takes the id and enrols the same secret: the old twoFactorId still leads nowhere.
    expect((await call(server, 'POST', `/api/user/${user.id}`, { key: ADMIN_KEY, body: { user: { email: `heir-${user.email}` } } })).status).to.equal(200);
    expect((await call(server, 'POST', `/api/user/two-factor/${user.id}`, { key: ADMIN_KEY, body: { method: 'authenticator', code: totpCode(user.secret), secretBase32Encoded: user.secret } })).status).to.equal(200);
    expect((await twoFactorLogin({ twoFactorId: first.json!.twoFactorId, code: totpCode(user.secret, 1) })).status).to.equal(404);
  });

  it('disables with a current code instead of the method id', async () => {
    const user = await enrolledUser(server);
    expect((await call(server, 'DELETE', `/api/user/two-factor/${user.id}?code=${wrongTotpCodes(user.secret)[0]}`, { key: ADMIN_KEY })).status).to.equal(400);
    expect((await call(server, 'DELETE', `/api/user/two-factor/${user.id}?code=${totpCode(user.secret)}`, { key: ADMIN_KEY })).status).to.equal(200);
    expect((await login(server, { code: await linkCode(user.email) })).status).to.equal(200);
  });
});
