import { expect } from 'chai';
import type * as client from 'openid-client';
import { Browser, type Page } from '../helpers/browser.js';
import { startTestServer, ALICE, type TestServer } from '../helpers/server.js';
import { authorizationRequest, discover, requestLink } from '../helpers/oidc.js';
import { expireCode, interactionUidOf } from '../helpers/cross-device.js';

/**
 * DESIGN.md: the hosted pages answer identically for known and unknown emails, in content. The
 * typed-code form must then count, expire and replace codes the same way for both: every
 * address gets a code, emailed or not.
 */

const UNKNOWN = 'nobody-here@example.com';

/** The message a typed-code answer shows, or the page status when it shows none. */
function messageOf(page: Page): string {
  const error = page.body.match(/<p class="error"[^>]*>([^<]*)</)?.[1]?.trim();
  return `${page.status} ${error ?? '(no message)'}`;
}

describe('typed codes answer alike for known and unknown addresses', () => {
  let server: TestServer;
  let config: client.Configuration;
  before(async () => {
    server = await startTestServer();
    config = await discover(server);
  });
  after(() => server.stop());

  async function signIn(email: string): Promise<{ browser: Browser; page: Page }> {
    const browser = new Browser(server.issuer);
    const page = await requestLink(browser, await authorizationRequest(config), email);
    // The code is made after the response, as for a person who types once the email arrived.
    await server.mails();
    return { browser, page };
  }

  it('restarts the count with each new link asked for from the same page', async () => {
    const answers: Record<string, string[]> = {};
    for (const email of [ALICE.email, UNKNOWN]) {
      const seen: string[] = (answers[email] = []);
      let { browser, page } = await signIn(email);
      for (let round = 0; round < 2; round += 1) {
        page = await browser.submit(page, '/code', { code: '000000' });
        seen.push(messageOf(page));
        // "Send me another link" from the same page.
        page = await browser.submit(page, '/email', { email });
        await server.mails();
        page = await browser.submit(page, '/code', { code: '000001' });
        seen.push(messageOf(page));
      }
    }
    expect(answers[ALICE.email]).to.deep.equal([
      '400 That code is not right. 4 tries left.',
      '400 That code is not right. 4 tries left.',
      '400 That code is not right. 3 tries left.',
      '400 That code is not right. 4 tries left.',
    ]);
    expect(answers[UNKNOWN]).to.deep.equal(answers[ALICE.email]);
  });

  it('says the code was replaced when the same address started another sign-in', async () => {
    const answers: string[] = [];
    for (const email of [ALICE.email, UNKNOWN]) {
      const first = await signIn(email);
      await signIn(email);
      answers.push(messageOf(await first.browser.submit(first.page, '/code', { code: '000000' })));
    }
    expect(answers[0]).to.match(/^400 .*newer/i);
    expect(answers[1]).to.equal(answers[0]);
  });

  it('says the code expired once its lifetime is over', async () => {
    const started = await Promise.all([ALICE.email, UNKNOWN].map((email) => signIn(email)));
    for (const { page } of started) await expireCode(server, interactionUidOf(page.url));
    const answers = await Promise.all(started.map(({ browser, page }) => browser.submit(page, '/code', { code: '000000' })));
    expect(messageOf(answers[0]!)).to.match(/^400 .*expired/i);
    expect(messageOf(answers[1]!)).to.equal(messageOf(answers[0]!));
  });
});
