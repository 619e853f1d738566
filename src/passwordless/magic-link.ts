import { chooseMailLocale, composeMagicLinkMail, type MailLocaleHints } from '../mail/magic-link.js';
import type { Outbox } from '../mail/outbox.js';
import type { MailDelivery } from '../mail/delivery.js';
import { MailUnavailableError } from '../mail/errors.js';
import { withStateParameters } from '../mail/links.js';
import type { Views } from '../render/views.js';
import { normalizeEmail, type UserRecord } from '../storage/types.js';
import { canSignIn, registrationFor } from '../accounts/users.js';
import type { AccountDirectory, Recipient } from './accounts.js';
import { log } from '../log.js';
import { hostedCodeOwner, unsentCodeOwner, type PasswordlessCodes } from './codes.js';
import { crossDeviceOf } from './approval.js';
import { signUpExtra, signUpSettingsFor } from './sign-up.js';

/** The client facts the sign-in needs (from the configured client metadata). */
export interface ClientPolicy {
  clientId: string;
  name: string;
  passwordlessEnabled: boolean;
  requireRegistration: boolean;
  /** The client's registered metadata (node-oidc-provider's `client.metadata()`). */
  metadata?: Readonly<Record<string, unknown>>;
}

export interface HostedRequest {
  email: string;
  interactionUid: string;
  client: ClientPolicy;
  /** The sign-in's ui_locales and the browser's Accept-Language; the user's own languages come between. */
  locale: MailLocaleHints;
  /** Feature data stored with the code (the cross-device approval state and context). */
  extra?: Record<string, unknown>;
  /** Where the provider is mounted ('' at the root, '/oidc' …): the link's path starts with it. */
  base: string;
}

/** A code issued outside the hosted pages (the API's /send), emailed while the caller waits. */
export interface DirectSendRequest {
  user: Recipient;
  /** The link without state (`state` entries are appended as query parameters); null to send the code to type only. */
  link: string | null;
  code: string | null;
  client: { id: string | null; name: string };
  state: Record<string, unknown> | null;
  /** Query keys `state` may not set (besides those already in `link`). */
  reservedKeys?: readonly string[];
  expiresAt: Date;
  locale?: MailLocaleHints;
}

/** May this user sign in to this client by magic link? */
export function mayUseClient(user: UserRecord, client: ClientPolicy): boolean {
  if (!canSignIn(user) || !client.passwordlessEnabled) return false;
  return !client.requireRegistration || registrationFor(user, client.clientId) !== undefined;
}

/**
 * URL of a hosted-flow link: under <base>/interaction/<uid> so the browser sends the interaction
 * cookie. The origin is the issuer's (rule 7), the path where the provider is mounted.
 */
export function interactionLink(issuer: string, base: string, interactionUid: string, linkCode: string): string {
  return `${new URL(issuer).origin}${base}/interaction/${encodeURIComponent(interactionUid)}/magic/${encodeURIComponent(linkCode)}`;
}

/** The server's view of a user as a recipient of its emails. */
export function recipientOf(user: UserRecord): Recipient {
  return {
    id: user.id,
    email: user.email,
    ...(user.firstName ? { firstName: user.firstName } : {}),
    ...(user.lastName ? { lastName: user.lastName } : {}),
    preferredLanguages: user.preferredLanguages,
    ...(user.timezone ? { timezone: user.timezone } : {}),
  };
}

/**
 * The hosted magic-link step: decides whether a request deserves an email and sends it,
 * always off the request path so the page never tells a known address from an unknown one.
 */
export class MagicLinkMailer {
  constructor(
    private readonly deps: {
      issuer: string;
      accounts: AccountDirectory;
      codes: PasswordlessCodes;
      delivery: MailDelivery;
      outbox: Outbox;
      views: Views;
    },
  ) {}

  /**
   * Queues the work for an email typed on the hosted page; returns at once, whatever the address.
   * `after` holds the work back until the page is out (see `responseDone`), so its cost cannot
   * show in the page's timing.
   */
  requestLink(request: HostedRequest, after?: Promise<void>): void {
    this.deps.outbox.enqueue('hosted.request', () => this.#issueAndSend(request), after);
  }

  /** Queues a fresh link for the user of an earlier code of the same sign-in (for a sign-up code, its address). */
  resendLink(request: Omit<HostedRequest, 'email'> & { userId: string; signUpEmail: string | null }): void {
    this.deps.outbox.enqueue('hosted.resend', async () => {
      if (request.signUpEmail) return this.#issueAndSend({ ...request, email: request.signUpEmail });
      const account = await this.deps.accounts.signInAccount(request.userId, request.client);
      // A host that gives no findAccountById cannot tell the address again: no fresh link then.
      if (account?.email) await this.#issueAndSend({ ...request, email: account.email });
    });
  }

  async #issueAndSend(request: HostedRequest): Promise<void> {
    const emailNormalized = normalizeEmail(request.email);
    const recipient = await this.deps.accounts.recipientFor(request.email, request.client);
    // Without a recipient the code is issued all the same, to no one: codes typed in this sign-in
    // then meet a code that counts its tries, expires, and is replaced by the next request,
    // exactly as for an address with an account, so the answers cannot tell the two apart.
    // An address with no account signs up, on a client that lets it: the same code, another email.
    const signUpEmail = !recipient && signUpSettingsFor(this.deps.accounts, request.client) ? request.email.trim() : null;
    const extra = signUpEmail ? { ...request.extra, ...signUpExtra(signUpEmail) } : request.extra;
    const issued = await this.deps.codes.issue({
      userId: recipient ? recipient.id : unsentCodeOwner(emailNormalized),
      owner: hostedCodeOwner(emailNormalized),
      clientId: request.client.clientId,
      interactionUid: request.interactionUid,
      withShortCode: true,
      ...(extra ? { extra } : {}),
    });
    if (!recipient && !signUpEmail) {
      log.info('code.not_sent', { reason: 'no_account', client: request.client.clientId });
      return;
    }
    const to: Recipient = recipient ?? { id: issued.record.userId, email: signUpEmail!, preferredLanguages: [] };
    const timeToLive = this.deps.codes.settings.timeToLiveInSeconds;
    const message = await composeMagicLinkMail(this.deps.views, {
      link: interactionLink(this.deps.issuer, request.base, request.interactionUid, issued.linkCode),
      code: issued.shortCode,
      crossDevice: crossDeviceOf(issued.record) !== null,
      signUp: signUpEmail !== null,
      user: to,
      client: { id: request.client.clientId, name: request.client.name },
      state: null,
      expiresAt: new Date(issued.record.expiresAt),
      timeToLive,
      locale: chooseMailLocale(this.deps.views, request.locale, to),
      issuer: this.deps.issuer,
    });
    try {
      await this.deps.delivery.sendNow(message, 'hosted');
    } catch (err) {
      // Already logged and counted by the delivery; the page the user sees must not change.
      if (err instanceof MailUnavailableError) return;
      throw err;
    }
    log.info('code.sent', { user: recipient?.id ?? null, client: request.client.clientId, ...(signUpEmail ? { signUp: true } : {}) });
  }
}

/**
 * The API's sender: composes and sends a magic-link email for a code the integrator started,
 * while the caller waits. Nothing here decides who gets mail or queues work: /send has already.
 */
export class DirectLinkMailer {
  constructor(private readonly deps: { issuer: string; delivery: MailDelivery; views: Views }) {}

  /**
   * Composes and sends a magic-link email while the caller waits (the API's /send).
   * Rejects with {@link MailUnavailableError} when the mail server cannot take it after the
   * configured retries; the error handler turns that into a 503.
   */
  async sendNow(request: DirectSendRequest): Promise<void> {
    const timeToLive = Math.max(0, Math.round((request.expiresAt.getTime() - Date.now()) / 1000));
    const message = await composeMagicLinkMail(this.deps.views, {
      link: request.link === null ? null : withStateParameters(request.link, request.state, request.reservedKeys ?? []),
      code: request.code,
      user: request.user,
      client: request.client,
      state: request.state,
      expiresAt: request.expiresAt,
      timeToLive,
      locale: chooseMailLocale(this.deps.views, request.locale ?? { uiLocales: [], acceptLanguage: [] }, request.user),
      issuer: this.deps.issuer,
    });
    await this.deps.delivery.sendNow(message, 'api');
    log.info('code.sent', { user: request.user.id, client: request.client.id });
  }
}
