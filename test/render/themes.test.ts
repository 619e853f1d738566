import { expect } from 'chai';
import { Browser } from '../helpers/browser.js';
import { startTestServer, BOB, type TestServer } from '../helpers/server.js';
import { authorizationRequest, discover, requestLink } from '../helpers/oidc.js';
import { makeTheme } from '../helpers/theme.js';

/** The email form a browser lands on when `server`'s web client asks for a sign-in. */
async function emailForm(server: TestServer) {
  const browser = new Browser(server.issuer);
  const rp = await authorizationRequest(await discover(server));
  return { browser, rp, form: await browser.get(rp.url.href) };
}

describe('page themes', () => {
  let themed: TestServer;
  let plain: TestServer;

  before(async () => {
    const theme = makeTheme({
      // Only the page header: every built-in page must pick it up.
      'partials/top.ejs': '<!doctype html>\n<html lang="<%= locale %>"><head><title><%= title %></title><link rel="stylesheet" href="/static/brand.css"></head><body><main class="brand-card">',
      // A page of the theme's own that uses a built-in partial (form-error) beside its own top,
      // one include written from the views root and one the way our pages used to write it.
      'pages/check-inbox.ejs': "<%- include('partials/top', { title: 'Inbox' }) %><p class=\"brand-inbox\"><%= t('inbox.title') %></p><%- include('../partials/form-error') %><%- include('partials/bottom') %>",
    });
    // Two servers in one process: a theme must stay with the instance it was given to.
    themed = await startTestServer({ config: { theme } });
    plain = await startTestServer();
  });
  after(async () => {
    await themed.stop();
    await plain.stop();
  });

  it('uses a theme’s partial in the built-in pages', async () => {
    const { form } = await emailForm(themed);
    expect(form.status).to.equal(200);
    expect(form.body).to.include('<main class="brand-card">');
    expect(form.body).to.include('href="/static/brand.css"');
    expect(form.body, 'the rest of the page is still ours').to.include('name="email"');
    expect(form.body).not.to.include('<main class="card">');
  });

  it('lets a theme’s page include the built-in partials it does not override', async () => {
    const { browser, rp } = await emailForm(themed);
    const page = await requestLink(browser, rp, BOB.email);
    expect(page.status).to.equal(200);
    expect(page.body).to.include('<main class="brand-card">');
    expect(page.body).to.match(/<p class="brand-inbox">[^<]+<\/p>/);
    expect(page.body, 'the built-in bottom partial closes the page').to.include('</main>');
  });

  it('keeps another instance in the same process on the built-in views', async () => {
    const { form } = await emailForm(plain);
    expect(form.status).to.equal(200);
    expect(form.body).to.include('<main class="card">');
    expect(form.body).not.to.include('brand');
  });
});
