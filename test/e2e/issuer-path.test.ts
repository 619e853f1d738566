import { expect } from 'chai';
import { freePort } from '../helpers/ports.js';
import { Browser } from '../helpers/browser.js';
import { ALICE, startTestServer, type TestServer } from '../helpers/server.js';
import { authorizationRequest, discover, exchange, lastMailTo, linkOf, requestLink, shortCodeOf } from '../helpers/oidc.js';


/** The server with an issuer that has a path: everything it serves lives under that path. */
describe('the server under an issuer with a path (ISSUER=http://host/idp)', () => {
  let server: TestServer;
  let origin: string;

  before(async () => {
    const port = await freePort();
    origin = `http://localhost:${port}`;
    server = await startTestServer({ config: { port, issuer: `${origin}/idp` } });
  });
  after(() => server.stop());

  it('publishes discovery and every endpoint under the path', async () => {
    const config = await discover(server);
    const metadata = config.serverMetadata();
    expect(metadata.issuer).to.equal(`${origin}/idp`);
    for (const endpoint of [metadata.authorization_endpoint, metadata.token_endpoint, metadata.userinfo_endpoint, metadata.jwks_uri]) {
      expect(endpoint!.startsWith(`${origin}/idp/`), endpoint).to.equal(true);
    }
  });

  it('signs in with the link: forms, assets and the emailed link carry the path', async () => {
    const rp = await authorizationRequest(await discover(server));
    const browser = new Browser(origin);
    const inbox = await requestLink(browser, rp, ALICE.email);
    expect(inbox.url.startsWith(`${origin}/idp/interaction/`)).to.equal(true);
    expect(inbox.body).to.include('action="/idp/interaction/');
    expect(inbox.body).to.include('href="/idp/static/style.css"');
    expect((await browser.get('/idp/static/style.css')).status).to.equal(200);
    const mail = (await lastMailTo(server, ALICE.email))!;
    const link = linkOf(mail);
    expect(link.startsWith(`${origin}/idp/interaction/`), link).to.equal(true);
    const landed = await browser.get(link);
    const tokens = await exchange(rp, landed.url);
    expect(tokens.claims()!.email).to.equal(ALICE.email);
  });

  it('signs in with the typed code', async () => {
    const rp = await authorizationRequest(await discover(server));
    const browser = new Browser(origin);
    const inbox = await requestLink(browser, rp, ALICE.email);
    const landed = await browser.submit(inbox, '/code', { code: shortCodeOf((await lastMailTo(server, ALICE.email))!) });
    expect((await exchange(rp, landed.url)).claims()!.email).to.equal(ALICE.email);
  });

  it('answers its own pages under the path, and nothing outside it', async () => {
    const browser = new Browser(origin);
    expect((await browser.get('/idp/health')).status).to.equal(200);
    expect((await browser.get('/health')).status).to.equal(404);
    expect((await browser.get('/.well-known/openid-configuration')).status).to.equal(404);
    const demo = await browser.get('/idp/');
    expect(demo.url).to.equal(`${origin}/idp/demo`);
    expect(demo.body).to.include('href="/idp/demo/login"');
  });
});
