import { expect } from 'chai';
import type * as client from 'openid-client';
import type { Browser, Page } from './browser.js';
import type { TestServer } from './server.js';
import { ALICE } from './server.js';
import { authorizationRequest, lastMailTo, linkOf, requestLink, shortCodeOf, type Relying } from './oidc.js';
import type { PasswordlessCodeRecord } from '../../src/storage/types.js';

/** The two-digit number the "check your inbox" page shows for approval on another device. */
export function pairNumberOn(page: Page): string {
  const number = /class="big-code pair-number"[^>]*>(\d{2})</.exec(page.body)?.[1];
  expect(number, 'the page shows a two-digit number').to.be.a('string');
  return number as string;
}

/** The interaction uid of a page under /interaction/<uid>. */
export function interactionUidOf(url: string): string {
  return new URL(url).pathname.split('/')[2] ?? '';
}

/**
 * A "check your inbox" page with what differs on every answer taken out (the address typed, the
 * sign-in's uid, the form token, the approval number, and the headers that change each time),
 * so the pages of a known and an unknown address can be compared whole: nothing may tell them apart.
 */
export function inboxPageShape(page: Page, email: string): { status: number; body: string; headers: [string, string][] } {
  const body = page.body
    .replaceAll(email, 'EMAIL')
    .replaceAll(interactionUidOf(page.url), 'UID')
    .replace(/name="csrf" value="[^"]*"/g, 'CSRF')
    // Each page shows a fresh random number for cross-device approval, known address or not.
    .replace(/name="pair" value="\d{2}"/g, 'PAIR')
    .replace(/(class="big-code pair-number"[^>]*>)\d{2}</g, '$1PAIR<');
  // The length differs with the address; the date and the request id on every answer.
  const headers = [...page.headers].filter(([name]) => !['date', 'x-request-id', 'content-length'].includes(name));
  return { status: page.status, body, headers };
}

export interface StartedSignIn {
  rp: Relying;
  /** The "check your inbox" page in the browser that started. */
  inbox: Page;
  uid: string;
  number: string;
  link: string;
  shortCode: string;
}

/** Starts a sign-in in `browser` (device A) and reads the emailed link. */
export async function startSignIn(server: TestServer, config: client.Configuration, browser: Browser, email = ALICE.email): Promise<StartedSignIn> {
  const rp = await authorizationRequest(config);
  const inbox = await requestLink(browser, rp, email);
  const mail = (await lastMailTo(server, email))!;
  return { rp, inbox, uid: interactionUidOf(inbox.url), number: pairNumberOn(inbox), link: linkOf(mail), shortCode: shortCodeOf(mail) };
}

/** The newest code record of a sign-in, straight from the store. */
export async function codeRecordOf(server: TestServer, uid: string): Promise<PasswordlessCodeRecord> {
  const record = await server.app.store.codes.findLatestForInteraction(uid, Date.now());
  expect(record, 'a code was issued').to.not.equal(null);
  return record!;
}

/**
 * Ends the lifetime of a sign-in's newest code now, as the clock would: tests of expiry then
 * neither sleep nor race a short lifetime against the steps before it.
 */
export async function expireCode(server: TestServer, uid: string): Promise<void> {
  const record = await codeRecordOf(server, uid);
  await server.app.store.codes.compareAndSet(record.id, {}, { expiresAt: Date.now() - 1 });
}

/** A two-digit number that is not `number`. */
export function otherNumber(number: string): string {
  return number === '42' ? '43' : '42';
}

/** What the original tab's poll says. */
export async function progressIn(browser: Browser, uid: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const page = await browser.get(`/interaction/${uid}/approval-status`);
  return { status: page.status, body: JSON.parse(page.body) as Record<string, unknown> };
}
