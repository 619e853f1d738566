import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { chromium, type Browser as Chrome, type Page } from 'playwright-core';
import { Browser } from '../helpers/browser.js';
import { ALICE, BOB, WEB_CLIENT, startTestServer, type TestServer } from '../helpers/server.js';
import { authorizationRequest, discover, requestLink } from '../helpers/oidc.js';

const CHROMIUM = '/usr/bin/chromium';

/** The dev mailbox as a developer uses it: the email as its reader sees it, a link that works, new mail without reloading. */
describe('the dev mailbox in headless Chromium', function () {
  this.timeout(60_000);
  let chrome: Chrome;
  let server: TestServer;

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      console.log(`    (skipped: ${CHROMIUM} is not installed)`);
      this.skip();
    }
    chrome = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
    server = await startTestServer();
  });
  after(async () => {
    await chrome?.close();
    await server?.stop();
  });

  async function newPage(): Promise<{ page: Page; cspErrors: string[] }> {
    const page = await (await chrome.newContext()).newPage();
    const cspErrors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) cspErrors.push(message.text());
    });
    // The client's callback: answered here, so the browser lands on it.
    await page.route(`${new URL(WEB_CLIENT.redirect_uris[0]!).origin}/**`, (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: 'callback' }));
    return { page, cspErrors };
  }

  it('shows the HTML email in a frame whose link signs in, in the window, under the strict CSP', async () => {
    const { page, cspErrors } = await newPage();
    const rp = await authorizationRequest(await discover(server));
    await page.goto(rp.url.href);
    await page.fill('input[name="email"]', ALICE.email);
    await page.click('button[type="submit"]');
    await page.waitForSelector('form[action$="/code"]');
    await server.mails();

    await page.goto(`${server.issuer}/dev/mail`);
    expect(await page.textContent('.mail-list')).to.include(ALICE.email);
    const frame = page.frameLocator('iframe.mail-html');
    const button = frame.getByRole('link', { name: /Sign in to/ });
    await button.waitFor();
    await page.screenshot({ path: path.join(os.tmpdir(), 'oidc-magic-link-dev-mailbox.png'), fullPage: true });
    await button.click();
    await page.waitForURL((url) => url.href.startsWith(WEB_CLIENT.redirect_uris[0]!), { timeout: 15_000 });
    expect(new URL(page.url()).searchParams.get('code'), 'signed in: the app got a code').to.be.a('string');
    expect(new URL(page.url()).searchParams.get('state')).to.equal(rp.state);
    expect(cspErrors).to.deep.equal([]);
  });

  it('shows a new email by itself, without a reload by the reader', async () => {
    const { page } = await newPage();
    await page.goto(`${server.issuer}/dev/mail`);
    expect(await page.textContent('body')).to.not.include(BOB.email);
    await requestLink(new Browser(server.issuer), await authorizationRequest(await discover(server)), BOB.email);
    // Read from outside the page (its CSP allows no evaluated script), as a reader would look again.
    await page.getByText(BOB.email).first().waitFor({ timeout: 15_000 });
    expect(await page.textContent('.mail-list li.selected')).to.include(BOB.email);
  });
});
