import { expect } from 'chai';
import { symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Browser } from '../helpers/browser.js';
import { startTestServer, BOB, type TestServer } from '../helpers/server.js';
import { authorizationRequest, discover, requestLink } from '../helpers/oidc.js';
import { makeTheme } from '../helpers/theme.js';
import { makeTempDir, removeTempDir } from '../helpers/temp.js';

/** The email form a browser lands on when `server`'s web client asks for a sign-in. */
async function emailForm(server: TestServer) {
  const browser = new Browser(server.issuer);
  const rp = await authorizationRequest(await discover(server));
  return { browser, rp, form: await browser.get(rp.url.href) };
}

describe('page themes', () => {
  let themed: TestServer;
  let plain: TestServer;
  let theme: string;

  before(async () => {
    theme = makeTheme({
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
    await themed?.stop();
    await plain?.stop();
    removeTempDir(theme);
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

/** GET of a path exactly as written (fetch would resolve `..` and tidy the path first). */
function rawGet(issuer: string, rawPath: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get(`${issuer}/`, { path: rawPath }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, type: String(response.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString() }));
    });
    request.on('error', reject);
  });
}

describe('theme static assets', () => {
  let server: TestServer;
  let theme: string;
  let outside: string;

  before(async () => {
    theme = makeTheme({
      'static/brand.css': 'body{color:red}',
      'static/style.css': 'THEME-STYLE',
      'static/logo.jpg': 'JPG',
      'static/logo.JPEG': 'JPEG',
      'static/logo.webp': 'WEBP',
      'static/logo.gif': 'GIF',
      'static/logo.avif': 'AVIF',
      'static/font.woff2': 'WOFF2',
      'static/font.woff': 'WOFF',
      'static/font.ttf': 'TTF',
      'static/font.otf': 'OTF',
      'static/img/logo.png': 'PNG',
      'static/img/deep/icon.svg': '<svg/>',
      'static/brand.css.map': '{}',
      'static/notes.ejs': 'not an asset',
      'static/.secret.css': 'hidden',
      'secret.css': 'outside the static folder',
    });
    outside = makeTempDir('oml-outside-');
    writeFileSync(path.join(outside, 'leak.css'), 'LEAK');
    symlinkSync(path.join(outside, 'leak.css'), path.join(theme, 'static', 'leak.css'));
    symlinkSync(outside, path.join(theme, 'static', 'out'));
    symlinkSync(path.join(theme, 'static', 'img'), path.join(theme, 'static', 'pictures'));
    symlinkSync(path.join(theme, 'static'), path.join(theme, 'static', 'img', 'loop'));
    server = await startTestServer({ config: { theme } });
  });
  after(async () => {
    await server?.stop();
    removeTempDir(theme);
    removeTempDir(outside);
  });

  it('serves a theme’s images, fonts and subfolders with their types, theme first, then ours', async () => {
    const expected: [string, string, string][] = [
      ['brand.css', 'text/css; charset=utf-8', 'body{color:red}'],
      ['style.css', 'text/css; charset=utf-8', 'THEME-STYLE'],
      ['logo.jpg', 'image/jpeg', 'JPG'],
      ['logo.JPEG', 'image/jpeg', 'JPEG'],
      ['logo.webp', 'image/webp', 'WEBP'],
      ['logo.gif', 'image/gif', 'GIF'],
      ['logo.avif', 'image/avif', 'AVIF'],
      ['font.woff2', 'font/woff2', 'WOFF2'],
      ['font.woff', 'font/woff', 'WOFF'],
      ['font.ttf', 'font/ttf', 'TTF'],
      ['font.otf', 'font/otf', 'OTF'],
      ['img/logo.png', 'image/png', 'PNG'],
      ['img/deep/icon.svg', 'image/svg+xml', '<svg/>'],
      ['pictures/logo.png', 'image/png', 'PNG'],
      ['brand.css.map', 'application/json; charset=utf-8', '{}'],
    ];
    for (const [name, type, body] of expected) {
      const response = await fetch(`${server.issuer}/static/${name}`);
      expect(response.status, name).to.equal(200);
      expect(response.headers.get('content-type'), name).to.equal(type);
      expect(response.headers.get('x-content-type-options'), name).to.equal('nosniff');
      expect(await response.text(), name).to.equal(body);
    }
    const ours = await fetch(`${server.issuer}/static/cross-device.js`);
    expect(ours.status).to.equal(200);
    expect(ours.headers.get('content-type')).to.equal('text/javascript; charset=utf-8');
  });

  it('serves nothing outside the static folders, whatever the path says', async () => {
    for (const rawPath of [
      '/static/../secret.css',
      '/static/%2e%2e/secret.css',
      '/static/img/..%2f..%2fsecret.css',
      '/static/img%2flogo.png',
      '/static//etc/passwd',
      '/static/%2Fetc%2Fpasswd',
      '/static/leak.css',
      '/static/out/leak.css',
      '/static/.secret.css',
      '/static/notes.ejs',
      '/static/img/loop/brand.css',
      '/static/%E0%A4%A',
    ]) {
      const response = await rawGet(server.issuer, rawPath);
      expect(response.status, rawPath).to.be.within(400, 499);
      expect(response.body, rawPath).not.to.match(/LEAK|outside the static|hidden|not an asset|root:/);
    }
  });
});
