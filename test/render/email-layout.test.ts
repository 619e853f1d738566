import { existsSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { chromium, type Browser } from 'playwright-core';
import { projectRoot } from '../../src/config/load.js';
import { Catalog } from '../../src/i18n/catalog.js';
import { Views } from '../../src/render/views.js';
import { composeMagicLinkMail } from '../../src/mail/magic-link.js';

const CHROMIUM = '/usr/bin/chromium';

/** The HTML email as a mail client lays it out: the long fallback address must not widen the message. */
describe('the magic-link email in a narrow window (headless Chromium)', function () {
  this.timeout(30_000);
  let chrome: Browser;

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      console.log(`    (skipped: ${CHROMIUM} is not installed)`);
      this.skip();
    }
    chrome = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  });
  after(async () => {
    await chrome?.close();
  });

  it('wraps the fallback address inside a 360-pixel-wide window instead of running off its edge', async () => {
    const views = new Views(path.join(projectRoot, 'views'), null, new Catalog([path.join(projectRoot, 'locales')], 'en'));
    const link = `https://login.example.com/interaction/${'u'.repeat(43)}/magic/${'c'.repeat(43)}`;
    const mail = await composeMagicLinkMail(views, {
      link,
      code: '123456',
      user: { id: 'u1', email: 'ada@example.com', firstName: 'Ada', preferredLanguages: [] },
      client: { id: 'web', name: 'Web App' },
      state: null,
      expiresAt: new Date(Date.now() + 180_000),
      timeToLive: 180,
      locale: 'en',
      issuer: 'https://login.example.com',
    });
    const page = await chrome.newPage({ viewport: { width: 360, height: 640 } });
    await page.setContent(mail.html);
    // A string, run in the page: the test's TypeScript has no DOM types.
    const { scrollWidth, linkShown } = (await page.evaluate("({ scrollWidth: document.documentElement.scrollWidth, linkShown: document.body.innerText.replace(/\\s+/g, '') })")) as { scrollWidth: number; linkShown: string };
    expect(scrollWidth, 'no horizontal scrolling').to.be.at.most(360);
    expect(linkShown, 'the whole address is still there to copy').to.include(link);
    await page.close();
  });
});
