import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Browser } from '../helpers/browser.js';
import { startTestServer, ALICE, BOB, type TestServer } from '../helpers/server.js';
import { authorizationRequest, discover, lastMailTo, linkOf, requestLink } from '../helpers/oidc.js';
import { TestSmtpServer, headerOf, type ReceivedMail } from '../helpers/smtp.js';
import { makeTheme } from '../helpers/theme.js';
import { tempDirsPerTest } from '../helpers/temp.js';
import { chooseLocale, parseAcceptLanguage, parseUiLocales } from '../../src/i18n/negotiate.js';
import { Catalog } from '../../src/i18n/catalog.js';
import { projectRoot } from '../../src/config/load.js';
import { durationKey, localeLocals, statedDuration, statedLifetime } from '../../src/i18n/helpers.js';

const KARL = { email: 'karl@example.com', firstName: 'Karl', preferredLanguages: ['de-AT'], timezone: 'Europe/Vienna' };
const FAST_RETRY = { attempts: 2, initialDelayMs: 10, maxDelayMs: 50 };

describe('localisation (en, de)', () => {
  let smtp: TestSmtpServer;
  let server: TestServer;

  before(async () => {
    smtp = await TestSmtpServer.start();
    server = await startTestServer({ config: { users: [ALICE, BOB, KARL], mail: { smtpUrl: smtp.url(), retry: FAST_RETRY } } });
  });
  after(async () => {
    await server.stop();
    await smtp.stop();
  });
  beforeEach(() => smtp.received.splice(0));

  /** Asks for a link for `email`; returns the "check your inbox" page and the email it caused. */
  async function ask(email: string, params: Record<string, string> = {}, headers: Record<string, string> = {}) {
    const browser = new Browser(server.issuer);
    const rp = await authorizationRequest(await discover(server), params);
    // The Browser drops extra headers on redirects, so the interaction page is fetched again with them.
    const started = await browser.get(rp.url.href);
    const form = await browser.get(started.url, { headers });
    expect(form.status).to.equal(200);
    const page = await browserSubmit(browser, form, email, headers);
    await server.app.outbox.drain();
    return { form, page, mail: smtp.received.find((m) => m.envelope.to.includes(email)) as ReceivedMail };
  }

  async function browserSubmit(browser: Browser, form: Awaited<ReturnType<Browser['get']>>, email: string, headers: Record<string, string>) {
    // Browser.submit sends no extra headers; post by hand so Accept-Language reaches the POST too.
    const action = /action="([^"]*\/email)"/.exec(form.body)?.[1] as string;
    const csrf = /name="csrf" value="([^"]*)"/.exec(form.body)?.[1] as string;
    const url = new URL(action, form.url).href;
    const cookie = await browser.jar.getCookieString(url);
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, ...headers },
      body: new URLSearchParams({ csrf, email }).toString(),
    });
    return { status: response.status, body: await response.text() };
  }

  it('speaks German on the pages and in the email when the request says ui_locales=de (over the user’s English)', async () => {
    const { form, page, mail } = await ask(ALICE.email, { ui_locales: 'fr de' });
    expect(form.body).to.include('<html lang="de">');
    expect(form.body).to.include('Bei Web App anmelden');
    expect(page.body).to.include('Sehen Sie in Ihr Postfach');
    expect(mail.parsed.subject).to.equal('Ihr Anmeldelink für Web App');
    expect(mail.parsed.text).to.include('Hallo Alice,');
    expect(mail.parsed.text).to.match(/Oder geben Sie dort diesen Code ein: \d{6}/);
    expect(mail.parsed.text).to.include('Sie lesen diese E-Mail auf einem anderen Gerät?');
    expect(mail.parsed.html).to.include('Sie lesen diese E-Mail auf einem anderen Gerät?');
    expect(mail.parsed.html).to.include('<html lang="de">');
    expect(headerOf(mail, 'content-language')).to.equal('de');
  });

  it('writes the email in the user’s preferredLanguages when the request names none (the page stays in the default)', async () => {
    const { page, mail } = await ask(KARL.email);
    expect(page.body).to.include('Check your inbox');
    expect(mail.parsed.subject).to.equal('Ihr Anmeldelink für Web App');
    expect(mail.parsed.text).to.include('Hallo Karl,');
  });

  it('uses Accept-Language for the pages, and for the email only after the user’s own languages', async () => {
    const german = { 'accept-language': 'de-CH, en;q=0.5' };
    const alice = await ask(ALICE.email, {}, german);
    expect(alice.form.body).to.include('Bei Web App anmelden');
    expect(alice.page.body).to.include('Sehen Sie in Ihr Postfach');
    expect(alice.mail.parsed.subject, 'Alice prefers English').to.equal('Your sign-in link for Web App');
    const bob = await ask(BOB.email, {}, german);
    expect(bob.mail.parsed.subject, 'Bob has no preference').to.equal('Ihr Anmeldelink für Web App');
  });

  it('falls back to mail.defaultLocale when nothing matches', async () => {
    const { form, mail } = await ask(BOB.email, { ui_locales: 'fr' }, { 'accept-language': 'ja' });
    expect(form.body).to.include('<html lang="en">');
    expect(mail.parsed.subject).to.equal('Your sign-in link for Web App');
  });

  it('shows the cross-device pages in the sign-in’s language, on a device without its cookie', async () => {
    const { page, mail } = await ask(ALICE.email, { ui_locales: 'de' });
    expect(page.body).to.include('Ich habe bestätigt – weiter');
    const number = /class="big-code pair-number"[^>]*>(\d{2})</.exec(page.body)?.[1] as string;
    const link = /(http:\/\/\S+\/interaction\/\S+\/magic\/[\w-]+)/.exec(mail.parsed.text as string)?.[1] as string;
    // Another device, whose browser prefers English: the sign-in asked for German.
    const other = new Browser(server.issuer);
    const elsewhere = await other.get(link, { headers: { 'accept-language': 'en' } });
    expect(elsewhere.status).to.equal(200);
    expect(elsewhere.body).to.include('<html lang="de">');
    expect(elsewhere.body).to.include('Melden Sie sich gerade bei Web App an?');
    expect(elsewhere.body).to.match(/Angefordert um \d{1,2}:\d\d UTC/);
    expect(elsewhere.body).to.include('Das war ich nicht');
    const wrong = await other.submit(elsewhere, '/approve', { number: number === '42' ? '43' : '42' });
    expect(wrong.status).to.equal(400);
    expect(wrong.body).to.include('Diese Zahl stimmte nicht');
  });

  it('shows a superseded link\'s problem page in the sign-in’s language, on a device without its cookie', async () => {
    const english = { 'accept-language': 'en' };
    const browser = new Browser(server.issuer, undefined, english);
    const rp = await authorizationRequest(await discover(server), { ui_locales: 'de' });
    const form = await browser.get(rp.url.href);
    const linkOfMail = (mail: ReceivedMail | undefined) => /(http:\/\/\S+\/interaction\/\S+\/magic\/[\w-]+)/.exec(mail?.parsed.text as string)?.[1] as string;
    const inbox = await browser.submit(form, '/email', { email: ALICE.email });
    await server.app.outbox.drain();
    const first = linkOfMail(smtp.received[0]);
    // A second email for the same sign-in ("Send a new link"): only its link works now.
    await browser.submit(inbox, '/email');
    await server.app.outbox.drain();
    expect(smtp.received).to.have.length(2);
    expect(linkOfMail(smtp.received[1])).not.to.equal(first);

    const phone = new Browser(server.issuer, undefined, english);
    const superseded = await phone.get(first);
    expect(superseded.status).to.equal(410);
    expect(superseded.body).to.include('<html lang="de">');
    expect(superseded.body).to.include('Ein neuerer Link wurde gesendet');
  });

  it('localises error pages too', async () => {
    const response = await fetch(`${server.issuer}/interaction/nope`, { headers: { 'accept-language': 'de' } });
    expect(response.status).to.equal(400);
    expect(await response.text()).to.include('Diese Anmeldeanfrage ist beendet');
  });
});

describe('the stated lifetime of a link', () => {
  it('rounds down to whole minutes and says seconds under a minute, never more than the link lives', () => {
    expect(statedLifetime(180)).to.deep.equal({ unit: 'minutes', count: 3, minutes: 3 });
    expect(statedLifetime(90)).to.deep.equal({ unit: 'minutes', count: 1, minutes: 1 });
    expect(statedLifetime(119)).to.deep.equal({ unit: 'minutes', count: 1, minutes: 1 });
    expect(statedLifetime(60)).to.deep.equal({ unit: 'minutes', count: 1, minutes: 1 });
    expect(statedLifetime(59)).to.deep.equal({ unit: 'seconds', count: 59, minutes: 1 });
    expect(statedLifetime(1)).to.deep.equal({ unit: 'seconds', count: 1, minutes: 1 });
  });

  it('states a longer span (the trust of a second factor) in its largest whole unit, rounded down', () => {
    expect(statedDuration(30 * 86_400)).to.deep.equal({ unit: 'days', count: 30 });
    expect(statedDuration(36 * 3_600)).to.deep.equal({ unit: 'days', count: 1 });
    expect(statedDuration(86_399)).to.deep.equal({ unit: 'hours', count: 23 });
    expect(statedDuration(3_600)).to.deep.equal({ unit: 'hours', count: 1 });
    expect(statedDuration(150)).to.deep.equal({ unit: 'minutes', count: 2 });
    expect(statedDuration(2)).to.deep.equal({ unit: 'seconds', count: 2 });
  });

  it('states a span in no unit larger than asked, and picks its message: the plain key in that unit, else the unit as suffix', () => {
    expect(statedDuration(2 * 86_400, 'minutes')).to.deep.equal({ unit: 'minutes', count: 2_880 });
    expect(statedDuration(7_199, 'hours')).to.deep.equal({ unit: 'hours', count: 1 });
    expect(statedDuration(59, 'minutes')).to.deep.equal({ unit: 'seconds', count: 59 });
    expect(durationKey('email.validUntil', statedLifetime(180), 'minutes')).to.equal('email.validUntil');
    expect(durationKey('email.validUntil', statedLifetime(30), 'minutes')).to.equal('email.validUntilSeconds');
    expect(durationKey('twoFactor.trust', statedDuration(30 * 86_400), 'days')).to.equal('twoFactor.trust');
    expect(durationKey('twoFactor.trust', statedDuration(3_600), 'days')).to.equal('twoFactor.trustHours');
    expect(durationKey('twoFactor.trust', statedDuration(150), 'days')).to.equal('twoFactor.trustMinutes');
    expect(durationKey('twoFactor.trust', statedDuration(2), 'days')).to.equal('twoFactor.trustSeconds');
  });

  for (const [ttl, page, mail, resent, german] of [
    [90, 'It works for 1 minute.', '(1 minute).', 'It works for 1 minute, in the browser', 'Er gilt 1 Minute.'],
    [30, 'It works for 30 seconds.', '(30 seconds).', 'It works for 30 seconds, in the browser', 'Er gilt 30 Sekunden.'],
  ] as const) {
    it(`says no more than ${ttl} s on the page, in the email and on the new-link page`, async () => {
      const server = await startTestServer({ config: { passwordless: { timeToLiveInSeconds: ttl } } });
      try {
        const config = await discover(server);
        const browser = new Browser(server.issuer);
        const rp = await authorizationRequest(config);
        const form = await browser.get(rp.url.href);
        const inbox = await browser.submit(form, '/email', { email: BOB.email });
        expect(inbox.body).to.include(page);
        const first = linkOf((await lastMailTo(server, BOB.email))!);
        expect((await lastMailTo(server, BOB.email))!.text).to.include(mail);
        // A second link ("Send a new link") supersedes the first; its problem page offers a new one.
        await browser.submit(inbox, '/email');
        await server.mails();
        const problem = await browser.get(first);
        expect(problem.status).to.equal(410);
        const newLink = await browser.submit(problem, '/resend');
        expect(newLink.status).to.equal(200);
        expect(newLink.body).to.include(resent);

        const deBrowser = new Browser(server.issuer, undefined, { 'accept-language': 'de' });
        const de = await deBrowser.submit(await deBrowser.get((await authorizationRequest(config)).url.href), '/email', { email: BOB.email });
        expect(de.body).to.include(german);
      } finally {
        await server.stop();
      }
    });
  }
});

describe('locale negotiation', () => {
  it('parses ui_locales and Accept-Language in order of preference', () => {
    expect(parseUiLocales('de-AT  en fr')).to.deep.equal(['de-AT', 'en', 'fr']);
    expect(parseUiLocales(undefined)).to.deep.equal([]);
    expect(parseAcceptLanguage('en;q=0.4, de-DE, fr;q=0.8, *;q=0.1, it;q=0')).to.deep.equal(['de-DE', 'fr', 'en']);
    expect(parseAcceptLanguage('<script>, de')).to.deep.equal(['de']);
  });

  it('matches exactly, then by language, else the fallback', () => {
    expect(chooseLocale(['de-AT'], ['en', 'de'], 'en')).to.equal('de');
    expect(chooseLocale(['pt-BR', 'pt'], ['en', 'pt-BR', 'pt'], 'en')).to.equal('pt-BR');
    expect(chooseLocale(['fr', 'DE'], ['en', 'de'], 'en')).to.equal('de');
    expect(chooseLocale(['fr'], ['en', 'de'], 'en')).to.equal('en');
  });
});

describe('message catalogue', () => {
  const localesFolder = path.join(projectRoot, 'locales');
  const tempDir = tempDirsPerTest();

  function keysOf(locale: string): string[] {
    const keys: string[] = [];
    const walk = (node: Record<string, unknown>, prefix: string) => {
      for (const [key, value] of Object.entries(node)) {
        if (key.startsWith('//')) continue;
        if (typeof value === 'object' && value !== null) walk(value as Record<string, unknown>, `${prefix}${key}.`);
        else keys.push(`${prefix}${key}`);
      }
    };
    walk(JSON.parse(readFileSync(path.join(localesFolder, `${locale}.json`), 'utf8')), '');
    return keys.sort();
  }

  it('has the same keys in every shipped locale', () => {
    const files = readdirSync(localesFolder).filter((f) => f.endsWith('.json'));
    expect(files).to.include.members(['en.json', 'de.json']);
    const english = keysOf('en');
    for (const file of files) expect(keysOf(file.slice(0, -5)), file).to.deep.equal(english);
  });

  it('leaves no human text hard-coded in a page or partial', () => {
    for (const folder of ['views/pages', 'views/partials']) {
      for (const file of readdirSync(path.join(projectRoot, folder))) {
        const source = readFileSync(path.join(projectRoot, folder, file), 'utf8');
        const visible = source
          .replace(/<%[\s\S]*?%>/g, ' ')
          .replace(/<(script|style)[\s\S]*?<\/\1>/g, ' ')
          .replace(/<[^>]*>/g, ' ')
          .replace(/&\w+;/g, ' ');
        expect(visible.trim(), `${folder}/${file}`).to.match(/^[\s·:.,()!?-]*$/);
        // Attributes people read (title, alt, aria-label, placeholder) must come from the catalogue too.
        expect(source, `${folder}/${file}`).not.to.match(/\b(alt|title|aria-label|placeholder)="[^"<]*[A-Za-z][^"<]*"/);
      }
    }
  });

  it('picks plural forms and fills variables', () => {
    const t = new Catalog([path.join(projectRoot, 'locales')], 'en').translator('de');
    expect(t('typedCode.wrong', { count: 1 })).to.equal('Dieser Code stimmt nicht. Noch 1 Versuch.');
    expect(t('typedCode.wrong', { count: 3 })).to.equal('Dieser Code stimmt nicht. Noch 3 Versuche.');
    expect(t('no.such.key')).to.equal('no.such.key');
  });

  it('lets {count} choose the plural form in HTML messages too (tHtml), escaping text and values', () => {
    const polish = { inbox: { sent: { one: 'ONE {count} <{email}>', few: 'FEW {count}', many: 'MANY {count}', other: 'OTHER {count}' } } };
    const theme = makeTheme({ 'locales/pl.json': JSON.stringify(polish) }, tempDir('oml-theme-'));
    const catalog = new Catalog([path.join(projectRoot, 'locales'), path.join(theme, 'locales')], 'en');
    const html = (locale: string, vars: Record<string, string | number>) =>
      localeLocals(locale, catalog.translator(locale)).tHtml('inbox.sent', { client: 'A&B', email: 'x@example.com', ...vars }, { email: ['<strong>', '</strong>'] });
    expect(html('en', { count: 1 })).to.equal('If <strong>x@example.com</strong> can sign in to A&amp;B, we have sent it a sign-in link. It works for 1 minute.');
    expect(html('en', { count: 3 })).to.include('It works for 3 minutes.');
    expect(html('de', { count: 1 })).to.include('Er gilt 1 Minute.');
    expect(html('pl', { count: 1 })).to.equal('ONE 1 &lt;<strong>x@example.com</strong>&gt;');
    expect(html('pl', { count: 3 })).to.equal('FEW 3');
    expect(html('pl', { count: 5 })).to.equal('MANY 5');
    expect(html('en', { count: 1, email: '<b>' })).to.include('If <strong>&lt;b&gt;</strong> can sign in');
  });

  it('adds a locale from one file in the theme folder, falling back to the default for missing keys', async () => {
    const theme = makeTheme({ 'locales/fr.json': JSON.stringify({ emailForm: { heading: 'Se connecter à {client}' }, email: { subject: 'Votre lien pour {client}' } }) }, tempDir('oml-theme-'));
    const server = await startTestServer({ config: { theme } });
    try {
      const browser = new Browser(server.issuer);
      const rp = await authorizationRequest(await discover(server), { ui_locales: 'fr' });
      const form = await browser.get(rp.url.href);
      expect(form.body).to.include('<html lang="fr">');
      expect(form.body).to.include('Se connecter à Web App');
      expect(form.body, 'missing keys fall back to English').to.include('Email me a sign-in link');
      await requestLink(browser, rp, BOB.email);
      const [mail] = await server.mails();
      expect(mail!.subject).to.equal('Votre lien pour Web App');
    } finally {
      await server.stop();
    }
  });
});
