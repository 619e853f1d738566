import { expect } from 'chai';
import type { AdapterPayload } from 'oidc-provider';
import { race, uniqueId, useStore, type StoreHarness } from './harness.js';

const epochSeconds = (): number => Math.floor(Date.now() / 1000);

function tokenPayload(overrides: Partial<AdapterPayload> = {}): AdapterPayload {
  return {
    jti: uniqueId(),
    kind: 'AccessToken',
    accountId: 'account-1',
    clientId: 'client-a',
    grantId: uniqueId(),
    scope: 'openid email',
    iat: epochSeconds(),
    exp: epochSeconds() + 3600,
    claims: { id_token: { email: null } },
    ...overrides,
  };
}

/** node-oidc-provider's Adapter contract. */
export function oidcAdapterContract(harness: StoreHarness): void {
  describe('oidc adapter', () => {
    const store = useStore(harness);

    it('finds what was upserted, unchanged, and nothing for an unknown id', async () => {
      const adapter = store().oidcAdapter('AccessToken');
      // node-oidc-provider's payloads carry their id as jti.
      const payload = tokenPayload({ jti: 'at-1' });
      await adapter.upsert('at-1', payload, 3600);
      expect(await adapter.find('at-1')).to.deep.equal(payload);
      expect(await adapter.find(uniqueId())).to.equal(undefined);
    });

    it('replaces the whole payload on a second upsert', async () => {
      const adapter = store().oidcAdapter('AccessToken');
      await adapter.upsert('at-2', tokenPayload({ jti: 'at-2', scope: 'openid', nonce: 'old' }), 3600);
      const replacement = tokenPayload({ jti: 'at-2', scope: 'openid email' });
      await adapter.upsert('at-2', replacement, 3600);
      expect(await adapter.find('at-2')).to.deep.equal(replacement);
    });

    it('keeps models apart: one id in two models is two entities', async () => {
      const id = uniqueId();
      await store().oidcAdapter('AccessToken').upsert(id, tokenPayload({ scope: 'a' }), 3600);
      await store().oidcAdapter('RefreshToken').upsert(id, tokenPayload({ kind: 'RefreshToken', scope: 'b' }), 3600);
      expect((await store().oidcAdapter('AccessToken').find(id))?.scope).to.equal('a');
      expect((await store().oidcAdapter('RefreshToken').find(id))?.scope).to.equal('b');
      expect(await store().oidcAdapter('AuthorizationCode').find(id)).to.equal(undefined);
    });

    it('does not return an expired entity by id, uid or user code, even before any cleanup ran', async () => {
      const sessions = store().oidcAdapter('Session');
      const devices = store().oidcAdapter('DeviceCode');
      const tokens = store().oidcAdapter('AccessToken');
      await sessions.upsert('expired-session', { uid: 'expired-uid', kind: 'Session' }, -60);
      await devices.upsert('expired-device', { userCode: 'EXPI-RED1', kind: 'DeviceCode' }, -60);
      await tokens.upsert('expired-token', tokenPayload(), -60);
      await tokens.upsert('live-token', tokenPayload(), 60);
      expect(await sessions.find('expired-session')).to.equal(undefined);
      expect(await sessions.findByUid('expired-uid')).to.equal(undefined);
      expect(await devices.findByUserCode('EXPI-RED1')).to.equal(undefined);
      expect(await tokens.find('expired-token')).to.equal(undefined);
      expect(await tokens.find('live-token')).to.not.equal(undefined);
    });

    it('consume records the time of consumption in epoch seconds and keeps the rest', async () => {
      const adapter = store().oidcAdapter('AuthorizationCode');
      const payload = tokenPayload({ kind: 'AuthorizationCode', jti: 'code-1' });
      await adapter.upsert('code-1', payload, 60);
      const before = epochSeconds();
      await adapter.consume('code-1');
      const after = epochSeconds();
      const found = await adapter.find('code-1');
      expect(found?.consumed).to.be.a('number').within(before, after);
      expect({ ...found, consumed: undefined }).to.deep.equal({ ...payload, consumed: undefined });
    });

    it('marks an entity consumed under 20 concurrent consume calls', async () => {
      const adapter = store().oidcAdapter('AuthorizationCode');
      await adapter.upsert('code-2', tokenPayload({ kind: 'AuthorizationCode' }), 60);
      const before = epochSeconds();
      const { fulfilled } = await race(20, () => adapter.consume('code-2'));
      expect(fulfilled.length).to.be.at.least(1);
      expect((await adapter.find('code-2'))?.consumed).to.be.a('number').within(before, epochSeconds());
    });

    it('lets exactly one of 20 concurrent consume calls win; the others reject', async function () {
      if (!harness.rejectsLosingConsume) this.skip();
      const adapter = store().oidcAdapter('RefreshToken');
      await adapter.upsert('rt-1', tokenPayload({ kind: 'RefreshToken' }), 60);
      const { fulfilled, rejected } = await race(20, () => adapter.consume('rt-1'));
      expect(fulfilled).to.have.length(1);
      expect(rejected).to.have.length(19);
      expect(rejected[0]).to.be.an('error').with.property('error', 'invalid_grant');
    });

    it('rejects consuming an entity consumed earlier, and keeps the first time', async function () {
      if (!harness.rejectsLosingConsume) this.skip();
      const adapter = store().oidcAdapter('AuthorizationCode');
      const consumedEarlier = epochSeconds() - 100;
      await adapter.upsert('code-3', tokenPayload({ kind: 'AuthorizationCode', consumed: consumedEarlier }), 60);
      const error = await adapter.consume('code-3').then(() => null, (caught: unknown) => caught);
      expect(error).to.be.an('error').with.property('error', 'invalid_grant');
      expect((await adapter.find('code-3'))?.consumed).to.equal(consumedEarlier);
    });

    it('rejects a lost race on a pushed authorization request as an invalid request_uri', async function () {
      if (!harness.rejectsLosingConsume) this.skip();
      const adapter = store().oidcAdapter('PushedAuthorizationRequest');
      await adapter.upsert('par-1', { kind: 'PushedAuthorizationRequest', consumed: epochSeconds() }, 60);
      const error = await adapter.consume('par-1').then(() => null, (caught: unknown) => caught);
      expect(error).to.be.an('error').with.property('error', 'invalid_request_uri');
    });

    it('consume of an unknown id changes nothing and does not throw', async () => {
      const adapter = store().oidcAdapter('AuthorizationCode');
      const id = uniqueId();
      await adapter.consume(id);
      expect(await adapter.find(id)).to.equal(undefined);
    });

    it('finds a session by uid, only through the Session model', async () => {
      const session = { kind: 'Session', uid: uniqueId(), accountId: 'account-1', exp: epochSeconds() + 60 };
      await store().oidcAdapter('Session').upsert('session-1', session, 60);
      expect(await store().oidcAdapter('Session').findByUid(session.uid)).to.deep.equal(session);
      expect(await store().oidcAdapter('Interaction').findByUid(session.uid)).to.equal(undefined);
      expect(await store().oidcAdapter('Session').findByUid(uniqueId())).to.equal(undefined);
    });

    it('finds a device code by user code', async () => {
      const device = { kind: 'DeviceCode', userCode: 'ABCD-EFGH', clientId: 'client-a', grantId: uniqueId() };
      await store().oidcAdapter('DeviceCode').upsert('device-1', device, 60);
      expect(await store().oidcAdapter('DeviceCode').findByUserCode('ABCD-EFGH')).to.deep.equal(device);
      expect(await store().oidcAdapter('DeviceCode').findByUserCode('ZZZZ-ZZZZ')).to.equal(undefined);
    });

    it('destroy removes the entity, also from the uid lookup, and ignores unknown ids', async () => {
      const sessions = store().oidcAdapter('Session');
      await sessions.upsert('session-2', { kind: 'Session', uid: 'uid-destroyed' }, 60);
      await sessions.destroy('session-2');
      await sessions.destroy(uniqueId());
      expect(await sessions.find('session-2')).to.equal(undefined);
      expect(await sessions.findByUid('uid-destroyed')).to.equal(undefined);
    });

    it('revokeByGrantId removes the grant from the model it is called on, and nothing else', async () => {
      const grantId = uniqueId();
      const otherGrantId = uniqueId();
      const models = ['AccessToken', 'RefreshToken', 'AuthorizationCode', 'DeviceCode', 'Interaction'];
      for (const model of models) {
        await store().oidcAdapter(model).upsert(`${model}-revoked`, tokenPayload({ kind: model, grantId }), 60);
        await store().oidcAdapter(model).upsert(`${model}-kept`, tokenPayload({ kind: model, grantId: otherGrantId }), 60);
      }
      await store().oidcAdapter('Grant').upsert(grantId, { kind: 'Grant', jti: grantId, clientId: 'client-a' }, 60);

      await store().oidcAdapter('AccessToken').revokeByGrantId(grantId);
      await store().oidcAdapter('RefreshToken').revokeByGrantId(grantId);

      for (const model of ['AccessToken', 'RefreshToken']) {
        expect(await store().oidcAdapter(model).find(`${model}-revoked`), model).to.equal(undefined);
      }
      for (const model of models) {
        expect(await store().oidcAdapter(model).find(`${model}-kept`), model).to.not.equal(undefined);
      }
      // A sign-in in progress that carries the grant id survives (node-oidc-provider never revokes it by grant).
      for (const model of ['AuthorizationCode', 'DeviceCode', 'Interaction']) {
        expect(await store().oidcAdapter(model).find(`${model}-revoked`), model).to.not.equal(undefined);
      }
      // The Grant itself is destroyed by node-oidc-provider separately, not by revokeByGrantId.
      expect(await store().oidcAdapter('Grant').find(grantId)).to.not.equal(undefined);
    });
  });
}
