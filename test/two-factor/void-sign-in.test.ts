import { expect } from 'chai';
import * as client from 'openid-client';
import { Browser, type Page } from '../helpers/browser.js';
import { type TestServer } from '../helpers/server.js';
import { authorizationRequest, discover, exchange } from '../helpers/oidc.js';
import { onEachStore } from '../helpers/stores.js';
import { startApiServer } from '../api/helpers.js';
import { enrolledUser, exhaustStepTries, isStep, landedWithCode, throughLink, totpCode, wrongTotpCodes, type Enrolled } from './helpers.js';

/**
 * The second-factor step belongs to the magic link's login, not to one interaction: once it is
 * void (five wrong codes) or declined, the browser cannot get more tries by going back to the app.
 */
describe('a void second-factor step ends the sign-in', function () {
  this.timeout(60_000);
  const startServer = async (mongodbUri: string | null) => {
    const server = await startApiServer({ config: mongodbUri ? { storage: { mongodbUri } } : {} });
    return { server, config: await discover(server), stop: () => server.stop() };
  };
  onEachStore(startServer, (current) => {
    let server: TestServer;
    let config: client.Configuration;
    before(() => {
      ({ server, config } = current());
    });

    const isEmailForm = (page: Page) => page.status === 200 && page.body.includes('name="email"') && !page.body.includes('name="code"');
    const errorOf = (page: Page) => new URL(page.url).searchParams.get('error');
    const newRequest = async (browser: Browser, params: Record<string, string> = {}) => browser.get((await authorizationRequest(config, params)).url.href);

    /** What the browser meets after the step was void: the email form again, and nothing finishes without a new link. */
    async function expectSignInOver(browser: Browser, user: Enrolled, stalePages: Page[]): Promise<void> {
      const again = await newRequest(browser);
      expect(isEmailForm(again), `a new request starts at the email form, not at the code: ${again.status} ${again.url}`).to.equal(true);
      expect(errorOf(await newRequest(browser, { prompt: 'none' }))).to.equal('login_required');
      for (const stale of stalePages) {
        const refused = await browser.submit(stale, '/two-factor', { code: totpCode(user.secret) });
        expect(landedWithCode(refused), 'the right code finishes nothing').to.equal(false);
      }
      // A new magic link starts a new login, with its own step and its own tries.
      const fresh = await throughLink(server, config, browser, user.email);
      expect(isStep(fresh.page) && fresh.page.status === 200, fresh.page.body).to.equal(true);
      expect((await browser.submit(fresh.page, '/two-factor', { code: wrongTotpCodes(user.secret)[0]! })).body).to.include('4 tries left');
      const done = await browser.submit(fresh.page, '/two-factor', { code: totpCode(user.secret) });
      expect(landedWithCode(done), done.body).to.equal(true);
      expect((await exchange(fresh.rp, done.url)).claims()!.amr).to.deep.equal(['email', 'otp']);
      expect(landedWithCode(await newRequest(browser)), 'the completed login is kept').to.equal(true);
    }

    it('after 5 wrong codes, going back to the app asks for the email again, not for more codes', async () => {
      const user = await enrolledUser(server);
      const browser = new Browser(server.issuer);
      const page = await exhaustStepTries(browser, (await throughLink(server, config, browser, user.email)).page, user.secret);
      await expectSignInOver(browser, user, [page]);
    });

    it('requests opened in parallel in the same browser share the 5 tries', async () => {
      const user = await enrolledUser(server);
      const browser = new Browser(server.issuer);
      let { page } = await throughLink(server, config, browser, user.email);
      const parallel = await newRequest(browser);
      expect(isStep(parallel) && parallel.status === 200).to.equal(true);
      const wrong = wrongTotpCodes(user.secret, 5);
      for (const code of wrong.slice(0, 3)) page = await browser.submit(page, '/two-factor', { code });
      const other = await browser.submit(parallel, '/two-factor', { code: wrong[3]! });
      expect(other.body).to.include('1 try left');
      await browser.submit(other, '/two-factor', { code: wrong[4]! });
      const stillOpen = await browser.get(page.url.replace(/\/two-factor$/, ''));
      expect(stillOpen.status).to.equal(429);
      expect(stillOpen.body).to.include('Too many wrong codes');
      await expectSignInOver(browser, user, [page, parallel]);
    });

    it('declining the step ends the sign-in the same way', async () => {
      const user = await enrolledUser(server);
      const browser = new Browser(server.issuer);
      const { page } = await throughLink(server, config, browser, user.email);
      const parallel = await newRequest(browser);
      const back = await browser.submit(page, '/two-factor/decline');
      expect(errorOf(back)).to.equal('access_denied');
      await expectSignInOver(browser, user, [parallel]);
    });
  });
});
