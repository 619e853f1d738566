import { expect } from 'chai';
import type * as client from 'openid-client';
import { Browser } from '../helpers/browser.js';
import { startTestServer, ALICE, WEB_CLIENT, type TestServer } from '../helpers/server.js';
import { authorizationRequest, discover, exchange, lastMailTo, linkOf, requestLink } from '../helpers/oidc.js';
import { codeRecordOf, expireCode, interactionUidOf, otherNumber, pairNumberOn, progressIn, startSignIn } from '../helpers/cross-device.js';
import { MemoryStore } from '../../src/storage/memory.js';

const CHROME_ON_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const SAFARI_ON_IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

const landedWithCode = (url: string) => {
  const landed = new URL(url);
  return landed.origin + landed.pathname === WEB_CLIENT.redirect_uris[0] && landed.searchParams.get('code') !== null;
};

describe('cross-device sign-in: the link opened on another device', () => {
  let server: TestServer;
  let config: client.Configuration;

  before(async () => {
    server = await startTestServer();
    config = await discover(server);
  });
  after(() => server.stop());

  const deviceA = () => new Browser(server.issuer, CHROME_ON_WINDOWS);
  const deviceB = () => new Browser(server.issuer, SAFARI_ON_IPHONE);

  it('shows the number on the original tab, and a cookie-less GET or HEAD shows the context, changes nothing and never the number', async () => {
    const a = deviceA();
    const started = await startSignIn(server, config, a);
    expect(started.inbox.body).to.include('I approved it — continue');
    expect(started.inbox.body).to.include('src="/static/cross-device.js"');
    const before = await codeRecordOf(server, started.uid);
    expect(before.extra).to.include({ approval: 'pending', pairNumber: started.number });

    const b = deviceB();
    const head = await b.get(started.link, { method: 'HEAD' });
    expect(head.status).to.equal(200);
    const page = await b.get(started.link);
    expect(page.status).to.equal(200);
    expect(page.body).to.include('Is this you signing in to Web App?');
    expect(page.body).to.include('Chrome on Windows', 'the browser that asked, not the one looking');
    expect(page.body).to.match(/network (127\.0\.0\.x|0:0:0::\/48)/);
    expect(page.body).to.not.match(/127\.0\.0\.1|::1\b/, 'no full IP address');
    expect(page.body).to.include(started.shortCode);
    expect(page.body).to.include('action="/interaction/' + started.uid + '/approve"');
    expect(page.body).to.include('This wasn&#39;t me');
    expect(page.body).to.include('this device will not be signed in');

    const withoutKnownParts = page.body
      .replaceAll(started.uid, '')
      .replaceAll(new URL(started.link).pathname.split('/').pop()!, '')
      .replaceAll(started.shortCode, '')
      .replace(/value="[^"]*"/g, '')
      .replace(/&#\d+;/g, '')
      // The network, checked above: over IPv6 (localhost as ::1) it reads 0:0:0::/48.
      .replace(/network (127\.0\.0\.x|0:0:0::\/48)/g, 'network')
      .replace(/\d{1,2}:\d\d\s*([AP]M\s*)?UTC/g, '');
    expect(withoutKnownParts).to.not.match(new RegExp(`\\b${started.number}\\b`), 'the number is not on the page the link opens');

    expect(await codeRecordOf(server, started.uid)).to.deep.equal(before);
    expect(b.jar.getCookiesSync(server.issuer)).to.deep.equal([], 'device B gets no cookie at all');
    expect((await progressIn(a, started.uid)).body).to.deep.equal({ state: 'waiting' });
  });

  it('approves with the right number (a POST); the original tab learns it and finishes; device B is not signed in', async () => {
    const a = deviceA();
    const started = await startSignIn(server, config, a);
    const b = deviceB();
    const page = await b.get(started.link);
    const approved = await b.submit(page, '/approve', { number: started.number });
    expect(approved.status).to.equal(200);
    expect(approved.body).to.include('Approved');
    expect(approved.body).to.include('This device is not signed in');
    expect((await codeRecordOf(server, started.uid)).status, 'approving does not redeem the code').to.equal('active');

    expect(await progressIn(a, started.uid)).to.deep.equal({ status: 200, body: { state: 'approved' } });
    const landed = await a.submit(started.inbox, '/continue');
    expect(landedWithCode(landed.url), landed.url).to.equal(true);
    const tokens = await exchange(started.rp, landed.url);
    expect(tokens.claims()!.email).to.equal(ALICE.email);
    expect(tokens.claims()!.amr).to.deep.equal(['email']);
    expect((await codeRecordOf(server, started.uid)).status).to.equal('used');

    expect(b.jar.getCookiesSync(server.issuer).map((c) => c.key)).to.not.include('_session');
    const silent = await authorizationRequest(config, { prompt: 'none' });
    const bTries = await b.get(silent.url.href);
    expect(new URL(bTries.url).searchParams.get('error'), 'device B has no session').to.equal('login_required');
  });

  it('makes approval single use: a second approval or a second continue wins nothing', async () => {
    const a = deviceA();
    const started = await startSignIn(server, config, a);
    const b = deviceB();
    const page = await b.get(started.link);
    const results = await Promise.all([1, 2, 3, 4].map(() => b.submit(page, '/approve', { number: started.number })));
    expect(results.map((r) => r.status).sort()).to.deep.equal([200, 409, 409, 409]);
    expect(results.filter((r) => r.body.includes('Already approved'))).to.have.length(3);

    const continues = await Promise.all([1, 2, 3].map(() => a.submit(started.inbox, '/continue')));
    expect(continues.filter((c) => landedWithCode(c.url)), 'exactly one continue finishes').to.have.length(1);

    const again = await b.submit(page, '/approve', { number: started.number });
    expect(again.status).to.equal(410);
    expect(again.body).to.include('already been used');
  });

  it('voids the approval path on a wrong number; the right number then fails, the typed code still works', async () => {
    const a = deviceA();
    const started = await startSignIn(server, config, a);
    const b = deviceB();
    const page = await b.get(started.link);
    const wrong = await b.submit(page, '/approve', { number: otherNumber(started.number) });
    expect(wrong.status).to.equal(400);
    expect(wrong.body).to.include('That number did not match');
    expect(wrong.body, 'the typed code is offered instead').to.include(started.shortCode);
    expect((await codeRecordOf(server, started.uid)).extra).to.include({ approval: 'void' });

    const right = await b.submit(page, '/approve', { number: started.number });
    expect(right.status).to.equal(409);
    expect(right.body).to.include('Approving is off for this link');
    expect((await progressIn(a, started.uid)).body).to.deep.equal({ state: 'void' });
    const reopened = await b.get(started.link);
    expect(reopened.body).to.not.include('/approve"', 'no approval form any more');

    const refused = await a.submit(started.inbox, '/continue');
    expect(refused.status).to.equal(409);
    expect(refused.body).to.include('did not match');
    expect(landedWithCode(refused.url)).to.equal(false);

    const landed = await a.submit(started.inbox, '/code', { code: started.shortCode });
    expect(landedWithCode(landed.url)).to.equal(true);
    expect((await exchange(started.rp, landed.url)).claims()!.email).to.equal(ALICE.email);
  });

  it('does not count a malformed number as a guess', async () => {
    const a = deviceA();
    const started = await startSignIn(server, config, a);
    const b = deviceB();
    const page = await b.get(started.link);
    for (const number of ['', '7', '123', 'ab']) {
      const slip = await b.submit(page, '/approve', { number });
      expect(slip.status, JSON.stringify(number)).to.equal(400);
      expect(slip.body).to.include('Please type the two-digit number');
    }
    expect((await codeRecordOf(server, started.uid)).extra).to.include({ approval: 'pending' });
  });

  it('denies on "This wasn\'t me": the original tab says so and the link and code are void', async () => {
    const a = deviceA();
    const started = await startSignIn(server, config, a);
    const b = deviceB();
    const denied = await b.submit(await b.get(started.link), '/deny');
    expect(denied.status).to.equal(200);
    expect(denied.body).to.include('Sign-in refused');
    expect((await codeRecordOf(server, started.uid)).status).to.equal('denied');

    expect((await progressIn(a, started.uid)).body).to.deep.equal({ state: 'denied' });
    const told = await a.submit(started.inbox, '/continue');
    expect(told.status).to.equal(409);
    expect(told.body).to.include('This sign-in was refused');

    const typed = await a.submit(started.inbox, '/code', { code: started.shortCode });
    expect(landedWithCode(typed.url)).to.equal(false);
    const clicked = await a.get(started.link);
    expect(clicked.status).to.equal(410);
    expect(clicked.body).to.include('This sign-in was refused');
    const reopened = await b.get(started.link);
    expect(reopened.status).to.equal(410);
    expect(reopened.body).to.not.include('/approve"');
  });

  it('lets no GET, HEAD or form without the number approve anything', async () => {
    const a = deviceA();
    const started = await startSignIn(server, config, a);
    const before = await codeRecordOf(server, started.uid);
    const b = deviceB();
    const linkCode = new URL(started.link).pathname.split('/').pop()!;
    const query = new URLSearchParams({ code: linkCode, number: started.number }).toString();
    for (const method of ['GET', 'HEAD']) {
      for (const path of ['approve', 'deny', 'continue']) {
        const res = await b.get(`/interaction/${started.uid}/${path}?${query}`, { method });
        expect(res.status, `${method} ${path}`).to.be.oneOf([404, 405]);
      }
    }
    // A scanner that submits the form as it finds it (no number) or replays it without the token.
    const page = await b.get(started.link);
    expect((await b.submit(page, '/approve')).status).to.equal(400);
    expect((await b.post(`/interaction/${started.uid}/approve`, { code: linkCode, number: started.number })).status).to.equal(400);
    expect(await codeRecordOf(server, started.uid)).to.deep.equal(before);
  });

  it('answers the status poll and the continue button only in the browser that started', async () => {
    const a = deviceA();
    const started = await startSignIn(server, config, a);
    const b = deviceB();
    await b.submit(await b.get(started.link), '/approve', { number: started.number });

    const poll = await progressIn(b, started.uid);
    expect(poll.status).to.equal(404);
    expect(poll.body).to.include({ error: 'sign_in_gone' });
    const stolen = await b.post(`/interaction/${started.uid}/continue`, {});
    expect(stolen.status).to.equal(400);
    expect(stolen.body).to.include('This sign-in request is over');
    expect((await codeRecordOf(server, started.uid)).status).to.equal('active');

    const tampered = await a.submit(started.inbox, '/continue', { pair: otherNumber(started.number) });
    expect(tampered.status, 'the number is bound to the form').to.equal(403);
    const landed = await a.submit(started.inbox, '/continue');
    expect(landedWithCode(landed.url)).to.equal(true);
  });

  it('says "nothing approved yet" the same way for a known and an unknown address', async () => {
    const known = deviceA();
    const unknown = deviceA();
    const pageKnown = await startSignIn(server, config, known);
    const rpUnknown = await authorizationRequest(config);
    const inboxUnknown = await requestLink(unknown, rpUnknown, 'nobody@example.com');
    const uidUnknown = interactionUidOf(inboxUnknown.url);
    expect(pairNumberOn(inboxUnknown)).to.match(/^\d{2}$/);
    expect((await progressIn(unknown, uidUnknown)).body).to.deep.equal({ state: 'waiting' });

    const continueKnown = await known.submit(pageKnown.inbox, '/continue');
    const continueUnknown = await unknown.submit(inboxUnknown, '/continue');
    expect(continueUnknown.status).to.equal(continueKnown.status).and.equal(409);
    expect(continueKnown.body).to.include('Nothing has been approved yet');
    expect(continueUnknown.body).to.include('Nothing has been approved yet');
  });

  it('refuses to approve a link that a newer one superseded', async () => {
    const a = deviceA();
    const started = await startSignIn(server, config, a);
    const b = deviceB();
    const page = await b.get(started.link);
    await a.submit(started.inbox, '/email', {});
    await server.mails();
    const stale = await b.submit(page, '/approve', { number: started.number });
    expect(stale.status).to.equal(410);
    expect(stale.body).to.include('A newer link was sent');
  });
});

describe('cross-device sign-in: expiry', () => {
  let server: TestServer;
  let config: client.Configuration;
  before(async () => {
    server = await startTestServer();
    config = await discover(server);
  });
  after(() => server.stop());

  it('refuses to approve an expired code, and the original tab cannot continue', async () => {
    const a = new Browser(server.issuer);
    const started = await startSignIn(server, config, a);
    const b = new Browser(server.issuer, SAFARI_ON_IPHONE);
    const page = await b.get(started.link);
    await expireCode(server, started.uid);
    const late = await b.submit(page, '/approve', { number: started.number });
    expect(late.status).to.equal(410);
    expect(late.body).to.include('This link has expired');
    expect((await codeRecordOf(server, started.uid)).extra).to.include({ approval: 'pending' });
    expect((await progressIn(a, started.uid)).body).to.deep.equal({ state: 'waiting' });
    const stuck = await a.submit(started.inbox, '/continue');
    expect(landedWithCode(stuck.url)).to.equal(false);
  });

  it('does not let an approval outlive its code', async () => {
    const a = new Browser(server.issuer);
    const started = await startSignIn(server, config, a);
    const b = new Browser(server.issuer, SAFARI_ON_IPHONE);
    const approved = await b.submit(await b.get(started.link), '/approve', { number: started.number });
    expect(approved.status).to.equal(200);
    await expireCode(server, started.uid);
    expect((await progressIn(a, started.uid)).body).to.deep.equal({ state: 'waiting' });
    const stuck = await a.submit(started.inbox, '/continue');
    expect(stuck.status).to.equal(409);
    expect(landedWithCode(stuck.url)).to.equal(false);
    expect((await codeRecordOf(server, started.uid)).status).to.equal('active');
  });

  it('tells the original tab the link expired after the other device approved it (or typed a wrong number), and sends a fresh link from there', async () => {
    for (const typed of ['right', 'wrong'] as const) {
      const a = new Browser(server.issuer);
      const started = await startSignIn(server, config, a);
      const b = new Browser(server.issuer, SAFARI_ON_IPHONE);
      await b.submit(await b.get(started.link), '/approve', { number: typed === 'right' ? started.number : otherNumber(started.number) });
      await expireCode(server, started.uid);
      expect((await b.get(started.link)).body, 'what the other device says').to.include('This link has expired');
      const stuck = await a.submit(started.inbox, '/continue');
      expect(stuck.status, typed).to.equal(409);
      expect(stuck.body, typed).to.include('This link has expired: sign-in links work for a few minutes only.');
      expect(stuck.body, typed).not.to.include('Nothing has been approved yet');
      // What the expired-link page offers: a fresh link for the same sign-in, which then works.
      const before = (await lastMailTo(server, ALICE.email))!;
      const resent = await a.submit(stuck, '/email');
      expect(resent.status, typed).to.equal(200);
      const fresh = (await lastMailTo(server, ALICE.email))!;
      expect(fresh.id, typed).to.not.equal(before.id);
      expect(landedWithCode((await a.get(linkOf(fresh))).url), typed).to.equal(true);
    }
  });

  it('still says "nothing approved yet" for an expired code nobody acted on, as for an unknown address', async () => {
    const known = new Browser(server.issuer);
    const started = await startSignIn(server, config, known);
    const unknown = new Browser(server.issuer);
    const inboxUnknown = await requestLink(unknown, await authorizationRequest(config), 'nobody@example.com');
    await expireCode(server, started.uid);
    const continueKnown = await known.submit(started.inbox, '/continue');
    const continueUnknown = await unknown.submit(inboxUnknown, '/continue');
    expect(continueKnown.status).to.equal(continueUnknown.status).and.equal(409);
    expect(continueKnown.body).to.include('Nothing has been approved yet');
    expect(continueUnknown.body).to.include('Nothing has been approved yet');
  });

  it('gives a fresh link of the same sign-in the same number and context, with approval open again', async () => {
    const a = new Browser(server.issuer, CHROME_ON_WINDOWS);
    const started = await startSignIn(server, config, a);
    const b = new Browser(server.issuer, SAFARI_ON_IPHONE);
    await b.submit(await b.get(started.link), '/approve', { number: otherNumber(started.number) });
    await expireCode(server, started.uid);
    const expired = await b.get(started.link);
    expect(expired.body).to.include('This link has expired');
    await b.submit(expired, '/resend');
    await server.mails();
    const fresh = await codeRecordOf(server, started.uid);
    expect(fresh.status).to.equal('active');
    expect(fresh.extra).to.deep.include({ approval: 'pending', pairNumber: started.number });
    expect((fresh.extra as { requestedFrom: { browser: string } }).requestedFrom.browser).to.equal('Chrome on Windows');
  });
});

describe('cross-device sign-in: two instances on one store', () => {
  let first: TestServer;
  let second: TestServer;
  let config: client.Configuration;
  before(async () => {
    const store = new MemoryStore();
    first = await startTestServer({ store });
    second = await startTestServer({ store });
    config = await discover(first);
  });
  after(async () => {
    await first.stop();
    await second.stop();
  });

  it('approves on one instance and continues on the other', async () => {
    const a = new Browser(first.issuer, CHROME_ON_WINDOWS);
    const started = await startSignIn(first, config, a);
    const b = new Browser(second.issuer, SAFARI_ON_IPHONE);
    const onSecond = started.link.replace(first.issuer, second.issuer);
    const page = await b.get(onSecond);
    expect(page.body).to.include('Chrome on Windows');
    const approved = await b.submit(page, '/approve', { number: started.number });
    expect(approved.status).to.equal(200);
    expect((await progressIn(a, started.uid)).body).to.deep.equal({ state: 'approved' });
    const landed = await a.submit(started.inbox, '/continue');
    expect(landedWithCode(landed.url)).to.equal(true);
    expect((await exchange(started.rp, landed.url)).claims()!.email).to.equal(ALICE.email);
  });
});
