import * as client from 'openid-client';
import { expect } from 'chai';
import type { Browser, Page } from './browser.js';
import type { TestServer } from './server.js';
import { WEB_CLIENT } from './server.js';
import type { StoredMail } from '../../src/mail/dev-mailbox.js';

export interface Relying {
  config: client.Configuration;
  verifier: string;
  state: string;
  nonce: string;
  url: URL;
}

/** An openid-client configuration for a test client, via discovery. */
export async function discover(server: TestServer, id = WEB_CLIENT.client_id, secret: string | null = WEB_CLIENT.client_secret) {
  const auth = secret === null ? client.None() : undefined;
  return client.discovery(new URL(server.issuer), id, secret ?? undefined, auth, { execute: [client.allowInsecureRequests] });
}

/** A PKCE authorization request as an ordinary relying party builds it. */
export async function authorizationRequest(
  config: client.Configuration,
  params: Record<string, string> = {},
  redirectUri = WEB_CLIENT.redirect_uris[0] as string,
): Promise<Relying> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid email profile',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  return { config, verifier, state, nonce, url };
}

/** Exchanges the code the browser landed with. */
export async function exchange(rp: Relying, landed: string) {
  return client.authorizationCodeGrant(rp.config, new URL(landed), {
    pkceCodeVerifier: rp.verifier,
    expectedState: rp.state,
    expectedNonce: rp.nonce,
  });
}

export function linkOf(mail: StoredMail): string {
  const link = /(http:\/\/\S+\/interaction\/\S+\/magic\/[\w-]+)/.exec(mail.text)?.[1];
  expect(link, 'email carries a magic link').to.be.a('string');
  return link as string;
}

export function shortCodeOf(mail: StoredMail): string {
  const code = /code there: (\S+)/.exec(mail.text)?.[1];
  expect(code, 'email carries a short code').to.be.a('string');
  return code as string;
}

/** Opens the authorization URL and asks for a link for `email`; returns the "check your inbox" page. */
export async function requestLink(browser: Browser, rp: Relying, email: string): Promise<Page> {
  const form = await browser.get(rp.url.href);
  expect(form.status).to.equal(200);
  expect(form.body).to.include('name="email"');
  return browser.submit(form, '/email', { email });
}

/** The newest email to `to` after background work settles. */
export async function lastMailTo(server: TestServer, to: string): Promise<StoredMail | undefined> {
  return (await server.mails()).find((m) => m.to === to);
}
