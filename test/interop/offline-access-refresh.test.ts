import { expect } from 'chai';
import * as client from 'openid-client';
import { Browser } from '../helpers/browser.js';
import { ALICE, THIRD_PARTY_CLIENT, startTestServer, type TestServer } from '../helpers/server.js';
import { authorizationRequest, discover, exchange, lastMailTo, linkOf, requestLink } from '../helpers/oidc.js';

/**
 * A client library that repeats its requested scopes on refresh (Authlib does, RFC 6749 §6 allows
 * it): a first-party client that asked for offline_access gets it granted, and may say so again.
 */
describe('refresh with the scopes first asked for, offline_access included (issue 22)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  const SCOPES = 'openid email profile offline_access';

  it('grants offline_access to a first-party client that asked for it, and refreshes with the same scopes', async () => {
    const config = await discover(server);
    const rp = await authorizationRequest(config, { scope: SCOPES });
    const browser = new Browser(server.issuer);
    await requestLink(browser, rp, ALICE.email);
    const tokens = await exchange(rp, (await browser.get(linkOf((await lastMailTo(server, ALICE.email))!))).url);
    expect(tokens.scope!.split(' ')).to.include('offline_access');
    const claims = tokens.claims()!;
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!, { scope: SCOPES });
    expect(refreshed.scope!.split(' ').sort()).to.deep.equal(SCOPES.split(' ').sort());
    const again = refreshed.claims()!;
    for (const claim of ['sub', 'email', 'email_verified', 'name', 'given_name', 'family_name']) expect(again[claim], claim).to.deep.equal(claims[claim]);
    const info = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
    expect(info.email).to.equal(ALICE.email);
  });

  it('keeps node-oidc-provider’s consent rule for other clients: no offline_access without it', async () => {
    const config = await discover(server, THIRD_PARTY_CLIENT.client_id, THIRD_PARTY_CLIENT.client_secret);
    const rp = await authorizationRequest(config, { scope: SCOPES }, THIRD_PARTY_CLIENT.redirect_uris[0]);
    const browser = new Browser(server.issuer);
    await requestLink(browser, rp, ALICE.email);
    const consent = await browser.get(linkOf((await lastMailTo(server, ALICE.email))!));
    const landed = await browser.submit(consent, '/consent');
    const tokens = await exchange(rp, landed.url);
    expect(tokens.scope!.split(' ')).to.not.include('offline_access');
    expect(tokens.refresh_token).to.equal(undefined);
  });
});
