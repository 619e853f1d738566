import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import Koa from 'koa';
import mount from 'koa-mount';
import nodemailer from 'nodemailer';
import Provider from 'oidc-provider';
import * as client from 'openid-client';
import { magicLink, type MagicLink, type MagicLinkMessage, type MagicLinkOptions } from '../../src/index.js';
import { Browser } from '../helpers/browser.js';
import { TestSmtpServer, headerOf } from '../helpers/smtp.js';

/**
 * A host in this process, as the README shows it: Koa with node-oidc-provider mounted at /oidc by
 * koa-mount, the host's own accounts, and mail sent by the host (`send`) or its nodemailer transport.
 */

const REDIRECT_URI = 'https://app.example.com/callback';
const ACCOUNT = { accountId: 'acct-1', email: 'lin@example.com', firstName: 'Lin', locales: ['de'] };
/** Accounts a host test made (sign-up), besides ACCOUNT. */
const madeAccounts = new Map<string, { accountId: string; email: string }>();

interface Host {
  issuer: string;
  ml: MagicLink;
  config: client.Configuration;
  close(): Promise<void>;
}

async function startHost(
  mail: MagicLinkOptions['mail'],
  seen: { clients: string[] } = { clients: [] },
  more: Partial<MagicLinkOptions> = {},
  /** More metadata of the host's client, declared as node-oidc-provider extra client metadata. */
  clientMetadata: Record<string, unknown> = {},
): Promise<Host> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://localhost:${(server.address() as AddressInfo).port}/oidc`;
  const keys = ['a-cookie-key-of-the-host-0123456789'];
  const ml = magicLink({
    findAccountByEmail: async (email, { client: c }) => {
      seen.clients.push(c.clientId);
      return email === ACCOUNT.email ? ACCOUNT : undefined;
    },
    mail,
    ...more,
  });
  const provider = new Provider(issuer, {
    clients: [{ client_id: 'host-app', client_secret: 'host-app-secret', redirect_uris: [REDIRECT_URI], client_name: 'Host App', ...clientMetadata }],
    extraClientMetadata: { properties: Object.keys(clientMetadata) },
    findAccount: async (_ctx, sub) => {
      const account = sub === ACCOUNT.accountId ? ACCOUNT : madeAccounts.get(sub);
      return account ? { accountId: sub, claims: () => ({ sub, email: account.email }) } : undefined;
    },
    claims: { openid: ['sub'], email: ['email'] },
    cookies: { keys },
    features: { devInteractions: { enabled: false } },
    interactions: ml.interactions(),
  });
  ml.mount(provider);
  const app = new Koa();
  app.keys = keys;
  app.use(mount('/oidc', provider));
  server.on('request', app.callback());
  const config = await client.discovery(new URL(issuer), 'host-app', 'host-app-secret', undefined, { execute: [client.allowInsecureRequests] });
  return {
    issuer,
    ml,
    config,
    close: async () => {
      await ml.close();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function askForLink(host: Host, email: string) {
  const url = client.buildAuthorizationUrl(host.config, { redirect_uri: REDIRECT_URI, scope: 'openid email', code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256' });
  const browser = new Browser(new URL(host.issuer).origin);
  const form = await browser.get(url.href);
  expect(form.url).to.match(/\/oidc\/interaction\/[\w-]+$/);
  const inbox = await browser.submit(form, '/email', { email });
  expect(inbox.status).to.equal(200);
  await host.ml.settled();
  return { browser, inbox, url };
}

describe('a host’s own mail sender (koa-mount under /oidc)', () => {
  it('gets the rendered message and its raw parts from send(), in the account’s language', async () => {
    const sent: MagicLinkMessage[] = [];
    const seen = { clients: [] as string[] };
    const host = await startHost({ send: async (message) => void sent.push(message) }, seen);
    try {
      await askForLink(host, ACCOUNT.email);
      expect(sent).to.have.length(1);
      const [message] = sent;
      expect(message!.to).to.equal(ACCOUNT.email);
      expect(message!.language).to.equal('de');
      expect(message!.parts!.link.startsWith(`${host.issuer}/interaction/`)).to.equal(true);
      expect(message!.text).to.include(message!.parts!.link);
      expect(message!.parts!.code).to.match(/^\d{6}$/);
      expect(message!.text).to.include(message!.parts!.code!);
      expect(message!.parts!.accountId).to.equal(ACCOUNT.accountId);
      expect(message!.parts!.client).to.deep.equal({ id: 'host-app', name: 'Host App' });
      expect(message!.parts!.expiresAt.getTime()).to.be.greaterThan(Date.now());
      expect(seen.clients).to.deep.equal(['host-app']);
    } finally {
      await host.close();
    }
  });

  it('sends nothing for an address the host does not know', async () => {
    const sent: MagicLinkMessage[] = [];
    const host = await startHost({ send: async (message) => void sent.push(message) });
    try {
      await askForLink(host, 'stranger@example.com');
      expect(sent).to.have.length(0);
    } finally {
      await host.close();
    }
  });

  it('retries a send() that failed and counts it', async () => {
    let calls = 0;
    const host = await startHost({
      send: async () => {
        calls += 1;
        if (calls === 1) throw Object.assign(new Error('mail API busy'), { code: 'ECONNRESET' });
      },
      retry: { attempts: 2, initialDelayMs: 0, maxDelayMs: 0 },
    });
    try {
      await askForLink(host, ACCOUNT.email);
      expect(calls).to.equal(2);
      expect(host.ml.mailStats).to.deep.include({ sent: 1, retried: 1 });
    } finally {
      await host.close();
    }
  });

  it('sends through the host’s nodemailer transport, with the From it names', async () => {
    const smtp = await TestSmtpServer.start();
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: smtp.port, secure: false, ignoreTLS: true });
    const host = await startHost({ transport, from: 'Host <login@host.example>' });
    try {
      await askForLink(host, ACCOUNT.email);
      expect(smtp.received).to.have.length(1);
      expect(headerOf(smtp.received[0]!, 'from')).to.include('login@host.example');
      expect(smtp.received[0]!.parsed.text).to.include(`${host.issuer}/interaction/`);
    } finally {
      await host.close();
      transport.close();
      await smtp.stop();
    }
  });
});

describe('a host’s own accounts', () => {
  it('asks findAccountById again when the link is used: an account gone meanwhile cannot finish', async () => {
    const sent: MagicLinkMessage[] = [];
    let present = true;
    const signIns: string[] = [];
    const host = await startHost({ send: async (message) => void sent.push(message) }, undefined, {
      findAccountById: async (accountId) => (present && accountId === ACCOUNT.accountId ? ACCOUNT : undefined),
      onSignIn: ({ accountId }, { method }) => void signIns.push(`${accountId}:${method}`),
    });
    try {
      const first = await askForLink(host, ACCOUNT.email);
      present = false;
      const refused = await first.browser.get(sent[0]!.parts!.link);
      expect(refused.status).to.equal(410);
      expect(refused.url.startsWith(REDIRECT_URI)).to.equal(false);
      expect(signIns).to.deep.equal([]);

      present = true;
      const second = await askForLink(host, ACCOUNT.email);
      const consent = await second.browser.submit(second.inbox, '/code', { code: sent[1]!.parts!.code! });
      // Not first-party in node-oidc-provider's terms: its consent prompt, on our page.
      const landed = await second.browser.submit(consent, '/consent');
      expect(landed.url.startsWith(REDIRECT_URI), landed.url).to.equal(true);
      expect(signIns).to.deep.equal([`${ACCOUNT.accountId}:typed_code`]);
    } finally {
      await host.close();
    }
  });
});

describe('a host’s sign-up (createAccount)', () => {
  it('emails an unknown address on a client with self_service_registration, and makes the account only when the form is sent', async () => {
    const sent: MagicLinkMessage[] = [];
    const created: { email: string; fields: Record<string, string>; roles: string[]; client: string }[] = [];
    const signIns: string[] = [];
    const host = await startHost(
      { send: async (message) => void sent.push(message) },
      undefined,
      {
        createAccount: async (input, { client: c }) => {
          created.push({ email: input.email, fields: input.fields as Record<string, string>, roles: input.roles, client: c.clientId });
          const account = { accountId: `made-${created.length}`, email: input.email };
          madeAccounts.set(account.accountId, account);
          return account;
        },
        findAccountById: async (accountId) => (accountId === ACCOUNT.accountId ? ACCOUNT : madeAccounts.get(accountId)),
        onSignIn: ({ accountId }, { method }) => void signIns.push(`${accountId}:${method}`),
      },
      { self_service_registration: { enabled: true, fields: [{ name: 'firstName', required: true }], default_roles: ['reader'] } },
    );
    try {
      const { browser, inbox } = await askForLink(host, 'newcomer@example.com');
      expect(inbox.body).to.include('Check your inbox');
      expect(sent).to.have.length(1);
      expect(sent[0]!.subject).to.equal('Create your account for Host App');
      expect(sent[0]!.parts).to.include({ signUp: true, accountId: null });
      const form = await browser.get(sent[0]!.parts!.link);
      expect(form.url).to.match(/\/oidc\/interaction\/[\w-]+\/magic\//);
      expect(form.body).to.include('Create your account for Host App').and.include('action="/oidc/interaction/');
      expect(created, 'nothing made before the form').to.deep.equal([]);
      const consent = await browser.submit(form, '/sign-up', { firstName: 'Noor' });
      const landed = await browser.submit(consent, '/consent');
      expect(landed.url.startsWith(REDIRECT_URI), landed.url).to.equal(true);
      expect(created).to.deep.equal([{ email: 'newcomer@example.com', fields: { firstName: 'Noor' }, roles: ['reader'], client: 'host-app' }]);
      expect(signIns).to.deep.equal(['made-1:sign_up']);
    } finally {
      await host.close();
    }
  });

  it('sends an unknown address nothing without createAccount, whatever the client says', async () => {
    const sent: MagicLinkMessage[] = [];
    const host = await startHost({ send: async (message) => void sent.push(message) }, undefined, {}, { self_service_registration: true });
    try {
      const { inbox } = await askForLink(host, 'newcomer@example.com');
      expect(inbox.body).to.include('Check your inbox');
      expect(inbox.body).not.to.include('create an account');
      expect(sent).to.deep.equal([]);
    } finally {
      await host.close();
    }
  });
});
