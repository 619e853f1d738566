import type { Views } from '../render/views.js';
import type { Recipient } from '../passwordless/accounts.js';
import { formatTime, statedLifetime } from '../i18n/helpers.js';
import { chooseLocale } from '../i18n/negotiate.js';
import type { MailMessage } from './types.js';

/** Everything the magic-link email templates can use. */
export interface MagicLinkMailData {
  /** The link to open (`state` entries already in its query); null for a code to type only (the API's FormField). */
  link: string | null;
  /** The short code to type, when one was issued. */
  code: string | null;
  /** Can the link approve the sign-in from another device (number matching)? Hosted sign-ins only. */
  crossDevice?: boolean;
  /** A "create your account" email: the address has no account yet, and the client lets it sign up. */
  signUp?: boolean;
  user: Recipient;
  client: { id: string | null; name: string };
  state: Record<string, unknown> | null;
  expiresAt: Date;
  /** Seconds the link and code live. */
  timeToLive: number;
  locale: string;
  issuer: string;
}

/** What the email's reader has told us about languages, strongest first. */
export interface MailLocaleHints {
  uiLocales: readonly string[];
  acceptLanguage: readonly string[];
}

/** ui_locales, then the user's preferredLanguages, then Accept-Language, then mail.defaultLocale. */
export function chooseMailLocale(views: Views, hints: MailLocaleHints, user: Pick<Recipient, 'preferredLanguages'>): string {
  const { catalog } = views;
  return chooseLocale([...hints.uiLocales, ...user.preferredLanguages, ...hints.acceptLanguage], catalog.locales, catalog.defaultLocale);
}

/**
 * Can a client id name its own folder under email/clients/? Any id that is one path segment
 * (`urn:acme:web`, `app@example.com`): no separator, no NUL, and not `.`, `..` or hidden, so it
 * cannot climb out of email/clients/.
 */
function isSafeFolderName(id: string): boolean {
  return id.length > 0 && !/[/\\\u0000]/.test(id) && !id.startsWith('.');
}

/** Template names for one part, most specific first: per client and locale, per client, per locale, default. */
export function templateCandidates(part: 'subject' | 'html' | 'text', clientId: string | null, locale: string): string[] {
  const base = `magic-link-${part}`;
  const perClient = clientId !== null && isSafeFolderName(clientId) ? [`email/clients/${clientId}/${base}.${locale}`, `email/clients/${clientId}/${base}`] : [];
  return [...perClient, `email/${base}.${locale}`, `email/${base}`];
}

/** Header-safe subject: one line, no control characters. */
function oneLine(value: string): string {
  return value.replace(/[\s\u0000-\u001f\u007f]+/g, ' ').trim();
}

/** Renders subject, HTML and text of the magic-link email (theme- and client-overridable views under email/). */
export async function composeMagicLinkMail(views: Views, data: MagicLinkMailData): Promise<MailMessage> {
  const lifetime = statedLifetime(data.timeToLive);
  const locals = {
    ...data,
    crossDevice: data.crossDevice ?? false,
    signUp: data.signUp ?? false,
    lifetime,
    minutes: lifetime.minutes,
    /** The expiry as a time of day in the user's timezone (UTC when unknown). */
    expiresAtText: formatTime(data.expiresAt, data.locale, data.user.timezone),
  };
  const [subject, html, text] = await Promise.all(
    (['subject', 'html', 'text'] as const).map((part) => views.renderFirst(templateCandidates(part, data.client.id, data.locale), locals)),
  );
  const name = [data.user.firstName, data.user.lastName].filter(Boolean).join(' ');
  return {
    to: data.user.email,
    ...(name ? { toName: name } : {}),
    subject: oneLine(subject ?? ''),
    html: html ?? '',
    text: text ?? '',
    language: data.locale,
    ...(data.link === null ? {} : { parts: { link: data.link, code: data.code, expiresAt: data.expiresAt, locale: data.locale, client: data.client, accountId: data.signUp ? null : data.user.id, signUp: data.signUp ?? false } }),
  };
}
