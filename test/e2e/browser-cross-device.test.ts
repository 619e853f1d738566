import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type * as client from 'openid-client';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startTestServer, ALICE, WEB_CLIENT, type TestServer } from '../helpers/server.js';
import { authorizationRequest, discover, exchange, lastMailTo, linkOf } from '../helpers/oidc.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The app's callback: a real listener, because Chromium follows the provider's redirects to it. */
async function startCallbackServer(): Promise<http.Server> {
  const app = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('the app'));
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  return app;
}

/**
 * The whole cross-device story in a real browser: context A (the laptop) starts the sign-in,
 * context B (the phone: separate cookies) opens the emailed link and approves by number, and
 * A's page notices by itself and lands on the app's redirect URI.
 */
describe('cross-device sign-in in headless Chromium', function () {
  let server: TestServer;
  let config: client.Configuration;
  let chrome: Browser | null = null;
  let callback: http.Server | null = null;
  let REDIRECT_URI = '';
  const contexts: BrowserContext[] = [];

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      console.log(`    (skipped: ${CHROMIUM} is not installed)`);
      this.skip();
    }
    chrome = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    callback = await startCallbackServer();
    REDIRECT_URI = `http://127.0.0.1:${(callback.address() as AddressInfo).port}/cb`;
    const app = { ...WEB_CLIENT, client_id: 'browser-app', redirect_uris: [REDIRECT_URI] };
    server = await startTestServer({ config: { clients: [app] } });
    config = await discover(server, app.client_id, app.client_secret);
  });

  after(async () => {
    for (const context of contexts) await context.close();
    await chrome?.close();
    await server?.stop();
    callback?.close();
  });

  /** A browser context: its own cookies, like a separate device. */
  async function newDevice(options: { javaScriptEnabled?: boolean } = {}): Promise<{ context: BrowserContext; page: Page; cspErrors: string[] }> {
    const context = await chrome!.newContext(options);
    contexts.push(context);
    const page = await context.newPage();
    const cspErrors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) cspErrors.push(message.text());
    });
    return { context, page, cspErrors };
  }

  /** Device A asks for a link; returns the number its page shows and the emailed link. */
  async function startOnA(page: Page) {
    const rp = await authorizationRequest(config, {}, REDIRECT_URI);
    await page.goto(rp.url.href);
    await page.fill('input[name=email]', ALICE.email);
    await Promise.all([page.waitForURL(/\/interaction\/[^/]+\/email$/), page.click('button[type=submit]')]);
    const number = (await page.textContent('.pair-number'))?.trim() ?? '';
    expect(number).to.match(/^\d{2}$/);
    const mail = await lastMailTo(server, ALICE.email);
    return { rp, number, link: linkOf(mail!) };
  }

  /** Device B opens the link, types the number and approves; resolves when the approval POST has answered. */
  async function approveOnB(page: Page, link: string, number: string): Promise<number> {
    await page.goto(link);
    expect(await page.textContent('h1')).to.include('Is this you signing in');
    expect(await page.content()).to.include('Chrome on Linux');
    await page.fill('#number', number);
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/approve') && r.request().method() === 'POST'),
      page.click('button:has-text("Approve")'),
    ]);
    const approvedAt = Date.now();
    expect(response.status()).to.equal(200);
    await page.waitForLoadState();
    expect(await page.textContent('h1')).to.equal('Approved');
    return approvedAt;
  }

  it('A starts, B approves by number, A continues on its own and lands on the redirect URI with a code that exchanges for tokens', async () => {
    const a = await newDevice();
    const b = await newDevice();
    const { rp, number, link } = await startOnA(a.page);

    const approvedAt = await approveOnB(b.page, link, number);
    await a.page.waitForURL((url) => url.href.startsWith(REDIRECT_URI), { timeout: 10_000 });
    const continuedAfter = Date.now() - approvedAt;
    console.log(`    approval POST → original tab on the redirect URI: ${continuedAfter} ms`);

    const tokens = await exchange(rp, a.page.url());
    expect(tokens.claims()!.email).to.equal(ALICE.email);
    expect((await b.context.cookies()).map((c) => c.name), 'device B is never signed in').to.not.include('_session');
    expect(a.cspErrors, 'the polling script runs under the CSP').to.deep.equal([]);
  });

  it('shows A that a wrong number turned approval off, then that B refused the sign-in', async () => {
    const a = await newDevice();
    const b = await newDevice();
    const { number, link } = await startOnA(a.page);
    await b.page.goto(link);
    await b.page.fill('#number', number === '42' ? '43' : '42');
    await Promise.all([b.page.waitForURL(/\/approve$/), b.page.click('button:has-text("Approve")')]);
    expect(await b.page.textContent('h1')).to.equal('That number did not match');
    await a.page.waitForSelector('[data-when="void"]:not([hidden])', { timeout: 10_000 });

    await b.page.goto(link);
    await Promise.all([b.page.waitForURL(/\/deny$/), b.page.click('button:has-text("This wasn\'t me")')]);
    expect(await b.page.textContent('h1')).to.equal('Sign-in refused');
    await a.page.waitForURL(/\/continue$/, { timeout: 10_000 });
    expect(await a.page.textContent('h1')).to.equal('This sign-in was refused');
  });

  it('tells a waiting tab that the sign-in is finished once the link signed in from another tab of the same browser, with no dead buttons', async () => {
    const a = await newDevice();
    const { rp, link } = await startOnA(a.page);
    const otherTab = await a.context.newPage();
    await otherTab.goto(link);
    await otherTab.waitForURL((url) => url.href.startsWith(REDIRECT_URI));
    expect((await exchange(rp, otherTab.url())).claims()!.email).to.equal(ALICE.email);

    await a.page.waitForSelector('[data-when="finished"]:not([hidden])', { timeout: 10_000 });
    expect(await a.page.textContent('[data-when="finished"]')).to.include('This sign-in is finished or has expired');
    for (const gone of ['#continue-form', 'form[action$="/email"]', 'form[action$="/code"]', '.pair-number', '[data-when="stopped"]']) {
      expect(await a.page.isVisible(gone), `${gone} is hidden`).to.equal(false);
    }
    expect(a.cspErrors).to.deep.equal([]);
  });

  it('without JavaScript, A continues with the "I approved it — continue" button', async () => {
    const a = await newDevice({ javaScriptEnabled: false });
    const b = await newDevice();
    const { rp, number, link } = await startOnA(a.page);
    await approveOnB(b.page, link, number);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(a.page.url(), 'no script, no automatic continue').to.match(/\/email$/);
    await Promise.all([
      a.page.waitForURL((url) => url.href.startsWith(REDIRECT_URI)),
      a.page.click('button:has-text("I approved it")'),
    ]);
    expect((await exchange(rp, a.page.url())).claims()!.email).to.equal(ALICE.email);
  });
});
