import { expect } from 'chai';
import { Browser, type Page } from '../helpers/browser.js';
import { captureLogEvents, type LogEvent } from '../helpers/logs.js';
import { expectSecurityHeaders } from '../helpers/headers.js';
import { authorizationRequest, discover } from '../helpers/oidc.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { makeTheme } from '../helpers/theme.js';
import { removeTempDir } from '../helpers/temp.js';

const HTML = { accept: 'text/html,application/xhtml+xml' };

/** The built-in page: readable HTML for the status, nothing of the failure in it. */
function expectBuiltInPage(page: Page, status: number, heading: string): void {
  expect(page.status, page.url).to.equal(status);
  expect(page.headers.get('content-type')).to.match(/^text\/html/);
  expect(page.headers.get('cache-control')).to.equal('no-store');
  expect(page.body).to.match(/^<!doctype html>/i);
  expect(page.body).to.include(`<h1>${status} ${heading}</h1>`);
  expect(page.body, 'no trace of the template error').not.to.match(/theme bug|error\.ejs|\bat .*\(|\.ts:\d/);
  expectSecurityHeaders(page.headers, page.url);
}

/** Fetches a page and returns it with the render failures logged meanwhile. */
async function fetchLoggingFailures(fetchPage: () => Promise<Page>): Promise<{ page: Page; failures: LogEvent[] }> {
  let page: Page | undefined;
  const failures = await captureLogEvents(
    'info',
    async () => {
      page = await fetchPage();
    },
    'page.render_failed',
  );
  return { page: page!, failures };
}

describe('an error page whose template throws', () => {
  let server: TestServer;
  let theme: string;

  before(async () => {
    theme = makeTheme({
      // A partial of the error page that throws: the page itself is the theme's own.
      'pages/error.ejs': "<%- include('partials/broken') %>",
      'partials/broken.ejs': "<% throw new Error('theme bug') %>",
      // The email form fails as well, for a 500 of our routes.
      'pages/email-form.ejs': "<% throw new Error('theme bug in the form') %>",
    });
    server = await startTestServer({ config: { theme } });
  });
  after(async () => {
    await server?.stop();
    removeTempDir(theme);
  });

  it('answers our own 404 with the built-in page, its status and the security headers, and logs the failure once', async () => {
    const { page, failures } = await fetchLoggingFailures(() => new Browser(server.issuer).get('/interaction/nope/not/here', { headers: HTML }));
    expectBuiltInPage(page, 404, 'Not Found');
    expect(page.body).to.include('<code>not_found</code>');
    expect(failures).to.have.length(1);
    expect(failures[0]).to.include({ view: 'pages/error', path: '/interaction/nope/not/here', status: 404 });
    expect(failures[0], 'the name and message, not the stack').not.to.have.property('stack');
  });

  it('logs the path of a failure with its link code redacted (rule 10)', async () => {
    const { page, failures } = await fetchLoggingFailures(() => new Browser(server.issuer).get('/interaction/nope/magic/SECRETLINKCODE123/extra', { headers: HTML }));
    expect(page.status).to.equal(404);
    expect(failures).to.have.length(1);
    expect(failures[0]).to.include({ path: '/interaction/nope/magic/[redacted]/extra' });
  });

  it('keeps the status of a 4xx error our error handler answers (a form too large, 413)', async () => {
    const page = await new Browser(server.issuer).post('/interaction/nope/email', { email: 'a'.repeat(20_000) });
    expectBuiltInPage(page, 413, 'Payload Too Large');
  });

  it('answers node-oidc-provider’s error page with its status (400) and the security headers', async () => {
    const { page, failures } = await fetchLoggingFailures(() => new Browser(server.issuer).get('/auth?client_id=nope&response_type=code&scope=openid', { headers: HTML }));
    expectBuiltInPage(page, 400, 'Bad Request');
    expect(page.body).to.include('<code>invalid_client</code>');
    expect(failures).to.have.length(1);
    expect(failures[0]).to.include({ view: 'pages/error', status: 400 });
  });

  it('answers a 500 with the built-in 500 page when a page fails and then the error page fails too', async () => {
    const rp = await authorizationRequest(await discover(server));
    const { page, failures } = await fetchLoggingFailures(() => new Browser(server.issuer).get(rp.url.href, { headers: HTML }));
    expectBuiltInPage(page, 500, 'Internal Server Error');
    expect(page.body).to.include('Something went wrong on our side.');
    expect(failures).to.have.length(1);
    expect(failures[0]).to.include({ view: 'pages/error', status: 500 });
  });
});
