import { expect } from 'chai';
import type * as client from 'openid-client';
import { Secret, TOTP } from 'otpauth';
import { createUser } from '../../src/accounts/admin.js';
import type { TestServer } from '../helpers/server.js';
import type { Browser, Page } from '../helpers/browser.js';
import { ADMIN_KEY, call } from '../api/helpers.js';
import { authorizationRequest, lastMailTo, linkOf, requestLink, type Relying } from '../helpers/oidc.js';

const STEP_MS = 30_000;
/** Far more than an enrolment request takes, even on a busy machine (a few milliseconds). */
const STEP_END_MARGIN_MS = 2_000;

/** The code an authenticator app shows for `secret`, `offsetSteps` steps from now. */
export function totpCode(secretBase32: string, offsetSteps = 0): string {
  return TOTP.generate({ secret: Secret.fromBase32(secretBase32), algorithm: 'SHA1', digits: 6, period: 30, timestamp: Date.now() + offsetSteps * STEP_MS });
}

/**
 * The previous step's code, to enrol with. The server accepts one step either side of its own,
 * so a previous-step code built in the last moments of a step is two steps old when the server
 * checks it in the next one, and is refused: near the end of a step, wait for the next to begin.
 */
export async function previousStepCode(secretBase32: string): Promise<string> {
  const left = STEP_MS - (Date.now() % STEP_MS);
  if (left < STEP_END_MARGIN_MS) await new Promise((resolve) => setTimeout(resolve, left + 50));
  return totpCode(secretBase32, -1);
}

/**
 * `count` different six-digit codes (000000, 000001, …) that are wrong for `secret`: none is the
 * code of a step near now, so a "wrong code" cannot be the right one by chance.
 */
export function wrongTotpCodes(secretBase32: string, count = 1): string[] {
  const near = new Set([-2, -1, 0, 1, 2].map((offset) => totpCode(secretBase32, offset)));
  const codes: string[] = [];
  for (let n = 0; codes.length < count; n += 1) {
    const code = String(n).padStart(6, '0');
    if (!near.has(code)) codes.push(code);
  }
  return codes;
}

export interface Enrolled {
  id: string;
  email: string;
  secret: string;
  recoveryCodes: string[];
}

let counter = 0;

/**
 * A new user (registered to the web client) with an authenticator enrolled through the API.
 * It enrols with the previous step's code, so the current and next codes remain for sign-ins.
 */
export async function enrolledUser(server: TestServer, prefix = 'totp'): Promise<Enrolled> {
  const email = `${prefix}-${Date.now()}-${(counter += 1)}@example.com`;
  const user = await createUser(server.app.store.users, { email, registrations: [{ applicationId: 'web', roles: ['member'] }] });
  const secret = await call(server, 'GET', '/api/two-factor/secret', { key: ADMIN_KEY });
  expect(secret.status).to.equal(200);
  const secretBase32 = secret.json!.secretBase32Encoded as string;
  const enabled = await call(server, 'POST', `/api/user/two-factor/${user.id}`, { key: ADMIN_KEY, body: { method: 'authenticator', code: await previousStepCode(secretBase32), secretBase32Encoded: secretBase32 } });
  expect(enabled.status, enabled.text).to.equal(200);
  return { id: user.id, email, secret: secretBase32, recoveryCodes: enabled.json!.recoveryCodes as string[] };
}

/** A new user without a second factor. */
export async function plainUser(server: TestServer): Promise<{ id: string; email: string }> {
  const email = `plain-${Date.now()}-${(counter += 1)}@example.com`;
  const user = await createUser(server.app.store.users, { email, registrations: [{ applicationId: 'web', roles: [] }] });
  return { id: user.id, email };
}

/** Types five wrong codes into the hosted step `page`; the page that says the step is void (429). */
export async function exhaustStepTries(browser: Browser, page: Page, secretBase32: string): Promise<Page> {
  let last = page;
  for (const code of wrongTotpCodes(secretBase32, 5)) last = await browser.submit(last, '/two-factor', { code });
  expect(last.status).to.equal(429);
  expect(last.body).to.include('Too many wrong codes');
  return last;
}

/** Email → magic link in `browser`; returns the request and the page the link led to. */
export async function throughLink(server: TestServer, config: client.Configuration, browser: Browser, email: string, params: Record<string, string> = {}): Promise<{ rp: Relying; page: Page }> {
  const rp = await authorizationRequest(config, params);
  await requestLink(browser, rp, email);
  const mail = await lastMailTo(server, email);
  return { rp, page: await browser.get(linkOf(mail!)) };
}

/** The hosted second-factor step: first shown (200) or again after a refused code (400). */
export const isStep = (page: Page) => page.body.includes('name="code"') && page.url.includes('/interaction/') && page.body.includes('Enter your verification code');

/** The browser landed back at the client with an authorization code: signed in. */
export const landedWithCode = (page: { url: string }) => new URL(page.url).searchParams.get('code') !== null;
