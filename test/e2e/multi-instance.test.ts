import { expect } from 'chai';
import * as client from 'openid-client';
import { Browser } from '../helpers/browser.js';
import { ALICE, BOB, WEB_CLIENT, testKeys } from '../helpers/server.js';
import { authorizationRequest, exchange, linkOf, requestLink, shortCodeOf, type Relying } from '../helpers/oidc.js';
import { startMongoTarget, type MongoTarget } from '../helpers/mongo-engine.js';
import { startBalancer, startInstance, type Balancer, type Instance } from '../helpers/cluster.js';

/**
 * Two server processes on one database behind one public issuer, as in production behind a
 * load balancer. Separate OS processes, so nothing can pass between them except through
 * MongoDB and the shared configuration (issuer, jwks, cookieKeys).
 */
describe('several instances on one MongoDB database', function () {
  // Each instance is a fresh Node process compiling TypeScript on a busy machine.
  this.timeout(120_000);
  let target: MongoTarget | null = null;
  let balancer: Balancer;
  let sharedConfig: Record<string, unknown>;
  const instances = new Map<string, Instance>();
  let oidc: client.Configuration;

  async function launch(name: string): Promise<Instance> {
    const instance = await startInstance(name, sharedConfig);
    instances.set(name, instance);
    balancer.register(name, instance.port);
    return instance;
  }

  function on(name: string): Instance {
    balancer.routeTo(name);
    return instances.get(name)!;
  }

  /** Paths the instance `name` served since `mark` (an index into the balancer's log). */
  function servedBy(name: string, mark: number): string[] {
    return balancer.forwarded.slice(mark).filter((f) => f.instance === name).map((f) => `${f.method} ${f.path.split('?')[0]}`);
  }

  before(async function () {
    target = await startMongoTarget();
    if (!target) return this.skip();
    balancer = await startBalancer();
    const keys = await testKeys();
    sharedConfig = {
      issuer: balancer.url,
      clients: [WEB_CLIENT],
      users: [ALICE, BOB],
      jwks: keys.jwks,
      cookieKeys: keys.cookieKeys,
      storage: { mongodbUri: target.freshUri() },
    };
    // Started together, as a deployment does: both seed the same users at the same moment.
    await Promise.all([launch('A'), launch('B')]);
    on('A');
    oidc = await client.discovery(new URL(balancer.url), WEB_CLIENT.client_id, WEB_CLIENT.client_secret, undefined, {
      execute: [client.allowInsecureRequests],
    });
  });

  after(async () => {
    for (const instance of instances.values()) await instance.stop();
    await balancer?.stop();
    await target?.stop();
  });

  /** Emails already handed to a test, so each sign-in reads its own. */
  const seenMails = new Set<string>();

  /** Starts a sign-in on `name` and returns the browser, the relying party and the email sent. */
  async function startSignIn(name: string, email = ALICE.email) {
    const browser = new Browser(balancer.url);
    const rp = await authorizationRequest(oidc);
    const sender = on(name);
    const inbox = await requestLink(browser, rp, email);
    expect(inbox.body).to.include('Check your inbox');
    const mail = await sender.nextMailTo(email, seenMails);
    seenMails.add(mail.id);
    return { browser, rp, inbox, mail };
  }

  async function exchangeOn(name: string, rp: Relying, landed: string) {
    on(name);
    return exchange(rp, landed);
  }

  it('completes a sign-in started on A when the link is opened on B, and A redeems the code', async () => {
    const { browser, rp, mail } = await startSignIn('A');
    on('B');
    const mark = balancer.forwarded.length;
    const landed = await browser.get(linkOf(mail));
    expect(new URL(landed.url).searchParams.get('code'), `landed on ${landed.url}`).to.be.a('string');
    expect(servedBy('B', mark)).to.include(`GET ${new URL(linkOf(mail)).pathname}`);

    const tokenMark = balancer.forwarded.length;
    const tokens = await exchangeOn('A', rp, landed.url);
    expect(tokens.claims()!.email).to.equal(ALICE.email);
    expect(servedBy('A', tokenMark)).to.include('POST /token');

    // Userinfo and refresh on B accept what A issued (shared keys, shared database).
    on('B');
    const userinfo = await client.fetchUserInfo(oidc, tokens.access_token, tokens.claims()!.sub);
    expect(userinfo.email).to.equal(ALICE.email);
    const refreshed = await client.refreshTokenGrant(oidc, tokens.refresh_token!);
    expect(refreshed.access_token).to.be.a('string');
    // The rotated refresh token is spent for A too.
    on('A');
    const reuse = await client.refreshTokenGrant(oidc, tokens.refresh_token!).then(
      () => null,
      (err: unknown) => err,
    );
    expect((reuse as { error?: string } | null)?.error).to.equal('invalid_grant');
  });

  it('takes the typed code on B for a sign-in started on A, and counts wrong guesses across both', async () => {
    const { browser, rp, inbox, mail } = await startSignIn('A', BOB.email);
    const right = shortCodeOf(mail);
    const wrong = right === '000000' ? '111111' : '000000';
    on('A');
    const first = await browser.submit(inbox, '/code', { code: wrong });
    expect(first.body).to.include('4 tries left');
    on('B');
    const second = await browser.submit(first, '/code', { code: wrong });
    expect(second.body, 'B sees the wrong guess made on A').to.include('3 tries left');

    const landed = await browser.submit(second, '/code', { code: right });
    expect(new URL(landed.url).searchParams.get('code')).to.be.a('string');
    expect((await exchangeOn('A', rp, landed.url)).claims()!.email).to.equal(BOB.email);
  });

  it('honours a session made on one instance on the other (SSO), in both directions', async () => {
    const { browser, rp, mail } = await startSignIn('B');
    const landed = await browser.get(linkOf(mail));
    await exchangeOn('B', rp, landed.url);

    for (const [via, redeem] of [['A', 'B'], ['B', 'A']] as const) {
      const silent = await authorizationRequest(oidc, { prompt: 'none' });
      on(via);
      const sso = await browser.get(silent.url.href);
      expect(new URL(sso.url).searchParams.get('code'), `SSO via ${via}: ${sso.url}`).to.be.a('string');
      expect((await exchangeOn(redeem, silent, sso.url)).claims()!.email).to.equal(ALICE.email);
    }

    // A browser without the session gets no SSO from either instance.
    const stranger = new Browser(balancer.url);
    on('A');
    const refused = await stranger.get((await authorizationRequest(oidc, { prompt: 'none' })).url.href);
    expect(new URL(refused.url).searchParams.get('error')).to.equal('login_required');
  });

  it('never redeems one link twice, even when both instances get it at once', async () => {
    const { browser, mail } = await startSignIn('A');
    const link = linkOf(mail);
    const uid = new URL(link).pathname.split('/')[2]!;
    const cookies = await browser.jar.getCookieString(link);
    const [a, b] = await Promise.all(
      [instances.get('A')!, instances.get('B')!].map((instance) =>
        fetch(`${instance.origin}${new URL(link).pathname}`, { redirect: 'manual', headers: { cookie: cookies } }),
      ),
    );
    const resumed = [a!, b!].filter((r) => r.status === 303 && (r.headers.get('location') ?? '').includes(`/auth/${uid}`));
    expect(resumed.length, `statuses ${a!.status} ${b!.status}`).to.equal(1);
    expect([a!.status, b!.status]).to.include(410);
  });

  it('completes, after a restart, a sign-in started before it', async () => {
    const { browser, rp, mail } = await startSignIn('A');
    // Another user, so this second sign-in does not supersede Alice's link.
    const before = await startSignIn('A', BOB.email);
    const tokensBefore = await exchangeOn('A', before.rp, (await before.browser.get(linkOf(before.mail))).url);

    expect(await instances.get('A')!.stop(), 'A drains and exits cleanly on SIGTERM').to.equal(0);
    instances.delete('A');
    await launch('A2');

    on('A2');
    const landed = await browser.get(linkOf(mail));
    expect(new URL(landed.url).searchParams.get('code'), `landed on ${landed.url}`).to.be.a('string');
    expect((await exchange(rp, landed.url)).claims()!.email).to.equal(ALICE.email);
    expect(tokensBefore.claims()!.email).to.equal(BOB.email);
    // Tokens issued before the restart stay good: the refresh token lives in the database.
    const refreshed = await client.refreshTokenGrant(oidc, tokensBefore.refresh_token!);
    expect(refreshed.access_token).to.be.a('string');
  });
});
