import { createHash } from 'node:crypto';
import { expect } from 'chai';
import * as client from 'openid-client';
import { Browser, type Page } from '../helpers/browser.js';
import { startTestServer, ALICE, WEB_CLIENT, type TestServer } from '../helpers/server.js';
import { authorizationRequest, discover, exchange, lastMailTo, linkOf, requestLink } from '../helpers/oidc.js';
import { expectSecurityHeaders } from '../helpers/headers.js';

/** The page needs nothing the CSP forbids: no inline script, inline style or event handler attribute. */
function expectWorksUnderCsp(page: Page, what: string): void {
  expect(page.body, `${what}: inline script`).not.to.match(/<script(?![^>]*\ssrc=)[^>]*>/i);
  expect(page.body, `${what}: inline style`).not.to.match(/<style|\sstyle=/i);
  expect(page.body, `${what}: event handler`).not.to.match(/\son[a-z]+=/i);
}

/** Every Set-Cookie of a response, parsed into name and lower-cased attributes. */
function cookiesOf(headers: Headers): { name: string; attributes: string[] }[] {
  return headers.getSetCookie().map((line) => {
    const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
    return { name: pair.split('=')[0] ?? '', attributes: attributes.map((a) => a.toLowerCase()) };
  });
}

describe('headers, cookies and forms (rule 8)', () => {
  describe('on an http issuer', () => {
    let server: TestServer;
    let config: client.Configuration;
    before(async () => {
      server = await startTestServer();
      config = await discover(server);
    });
    after(() => server.stop());

    it('sends CSP with frame-ancestors none and no unsafe-inline, no-referrer and nosniff on every kind of answer, and no HSTS', async () => {
      const browser = new Browser(server.issuer);
      const form = await browser.get((await authorizationRequest(config)).url.href);
      const inbox = await browser.submit(form, '/email', { email: 'nobody@example.com' });
      const pages: [string, Page][] = [
        ['email form', form],
        ['check inbox', inbox],
        ['provider error page', await browser.get('/auth?client_id=nope&response_type=code&scope=openid')],
        ['our 404', await browser.get('/interaction/nope')],
        ['dev mailbox', await browser.get('/dev/mail')],
        ['demo', await browser.get('/demo')],
      ];
      for (const [what, page] of pages) {
        expectSecurityHeaders(page.headers, what);
        expectWorksUnderCsp(page, what);
      }
      for (const path of ['/.well-known/openid-configuration', '/jwks', '/health', '/api/openapi.json', '/static/style.css', '/api/nope']) {
        const response = await fetch(`${server.issuer}${path}`);
        expectSecurityHeaders(response.headers, path);
        expect(response.headers.get('strict-transport-security'), path).to.equal(null);
      }
    });

    it('keeps node-oidc-provider pages working: the logout page under our CSP, form_post with its script allowed by hash', async () => {
      const browser = new Browser(server.issuer);
      const rp = await authorizationRequest(config);
      await requestLink(browser, rp, ALICE.email);
      const landed = await browser.get(linkOf((await lastMailTo(server, ALICE.email))!));
      const tokens = await exchange(rp, landed.url);
      const logout = await browser.get(client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: WEB_CLIENT.post_logout_redirect_uris[0]! }).href);
      expect(logout.status).to.equal(200);
      expectSecurityHeaders(logout.headers, 'logout');
      expectWorksUnderCsp(logout, 'logout');

      // Signed in again (a session exists), form_post answers with node-oidc-provider's auto-submitting page.
      const postRp = await authorizationRequest(config, { response_mode: 'form_post' });
      const posted = await browser.get(postRp.url.href);
      expect(posted.body).to.include('<form method="post"');
      expectSecurityHeaders(posted.headers, 'form_post');
      const script = /<script>([\s\S]*?)<\/script>/.exec(posted.body)?.[1] ?? '';
      const digest = createHash('sha256').update(script).digest('base64');
      expect(posted.headers.get('content-security-policy'), 'its one inline script is allowed by hash').to.include(`'sha256-${digest}'`);
    });

    it('sets signed, httpOnly, SameSite=Lax cookies without Secure over plain http', async () => {
      const response = await fetch((await authorizationRequest(config)).url.href, { redirect: 'manual' });
      const cookies = cookiesOf(response.headers);
      expect(cookies.map((c) => c.name)).to.include.members(['_interaction', '_interaction.sig', '_interaction_resume', '_interaction_resume.sig']);
      for (const cookie of cookies) {
        expect(cookie.attributes, cookie.name).to.include('httponly');
        expect(cookie.attributes, cookie.name).to.include('samesite=lax');
        expect(cookie.attributes, cookie.name).not.to.include('secure');
      }
      // A cookie whose signature does not match is ignored: the sign-in is gone.
      const interaction = response.headers.getSetCookie().find((c) => c.startsWith('_interaction='))!.split(';')[0]!;
      const uid = interaction.split('=')[1]!;
      const forged = await fetch(`${server.issuer}/interaction/${uid}`, { headers: { cookie: `${interaction}; _interaction.sig=forged` } });
      expect(forged.status).to.equal(400);
      expect(await forged.text()).to.include('sign-in');
    });

    it('refuses every state-changing form with a missing or forged token, and changes nothing', async () => {
      const browser = new Browser(server.issuer);
      const rp = await authorizationRequest(config);
      const form = await browser.get(rp.url.href);
      const uid = /\/interaction\/([\w-]+)\/email/.exec(form.body)![1]!;
      const before = (await server.mails()).length;
      for (const csrf of [undefined, '', 'forged', /name="csrf" value="([^"]*)"/.exec(form.body)![1]!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))]) {
        const fields: Record<string, string> = { email: ALICE.email, ...(csrf === undefined ? {} : { csrf }) };
        const answer = await browser.post(`${server.issuer}/interaction/${uid}/email`, fields);
        expect(answer.status, `email form, token ${String(csrf)}`).to.equal(403);
      }
      expect((await server.mails()).length, 'no email was sent').to.equal(before);

      // A real token of one form does not work for another form, nor for another sign-in.
      const inbox = await browser.submit(form, '/email', { email: ALICE.email });
      const mail = (await lastMailTo(server, ALICE.email))!;
      const code = /code there: (\S+)/.exec(mail.text)![1]!;
      const emailToken = /action="\/interaction\/[\w-]+\/email"[^>]*>\s*<input type="hidden" name="csrf" value="([^"]*)"/.exec(inbox.body)![1]!;
      const pair = /name="pair" value="(\d+)"/.exec(inbox.body)![1]!;
      const wrongForm = await browser.post(`${server.issuer}/interaction/${uid}/code`, { csrf: emailToken, email: ALICE.email, pair, code });
      expect(wrongForm.status, 'the email form token does not submit a code').to.equal(403);
      const other = new Browser(server.issuer);
      const otherForm = await other.get((await authorizationRequest(config)).url.href);
      const otherUid = /\/interaction\/([\w-]+)\/email/.exec(otherForm.body)![1]!;
      const crossed = await browser.post(`${server.issuer}/interaction/${otherUid}/email`, { csrf: emailToken, email: ALICE.email });
      expect(crossed.status, 'a token of one sign-in does not work for another').to.be.oneOf([400, 403]);
      for (const path of ['abort', 'consent', 'resend', 'continue']) {
        const answer = await browser.post(`${server.issuer}/interaction/${uid}/${path}`, { csrf: 'forged', code: 'x', pair });
        // Refused with a clear 4xx page, never on to the app (nor a silent redirect).
        expect(answer.status, path).to.be.oneOf([400, 403]);
        expect(answer.url, path).to.equal(`${server.issuer}/interaction/${uid}/${path}`);
      }
      // Nothing above consumed the code: it still signs in.
      const done = await browser.submit(inbox, '/code', { code });
      expect(done.url).to.match(/^http:\/\/127\.0\.0\.1:9999\/cb\?code=/);
    });
  });

  describe('behind a TLS-terminating proxy', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ config: { proxy: true, issuer: 'https://id.example.test' } });
    });
    after(() => server.stop());

    it('sends HSTS and marks every cookie Secure when the proxy says https', async () => {
      const health = await fetch(`${server.issuer.replace('https://id.example.test', `http://127.0.0.1:${server.port}`)}/health`);
      expect(health.headers.get('strict-transport-security')).to.match(/max-age=\d{7,}/);
      const url = `http://127.0.0.1:${server.port}/auth?${new URLSearchParams({ client_id: 'web', response_type: 'code', scope: 'openid', redirect_uri: WEB_CLIENT.redirect_uris[0]!, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' })}`;
      const response = await fetch(url, { redirect: 'manual', headers: { 'x-forwarded-proto': 'https', host: 'id.example.test' } });
      expect(response.status).to.equal(303);
      const cookies = cookiesOf(response.headers);
      expect(cookies.length).to.be.greaterThan(1);
      for (const cookie of cookies) {
        expect(cookie.attributes, cookie.name).to.include.members(['secure', 'httponly', 'samesite=lax']);
      }
      expect(cookies.some((c) => c.name.endsWith('.sig')), 'signed').to.equal(true);
    });
  });
});
