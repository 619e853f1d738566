import type { Config } from '../config/schema.js';
import { composeMagicLinkMail } from '../mail/magic-link.js';
import type { Outbox } from '../mail/outbox.js';
import type { MailTransport } from '../mail/types.js';
import type { Views } from '../render/views.js';
import { normalizeEmail, type UserRecord, type UserRepository } from '../storage/types.js';
import { registrationFor } from '../accounts/users.js';
import { log } from '../log.js';
import type { PasswordlessCodes } from './codes.js';

/** The client facts the sign-in needs (from the configured client metadata). */
export interface ClientPolicy {
  clientId: string;
  name: string;
  passwordlessEnabled: boolean;
  requireRegistration: boolean;
}

export interface HostedRequest {
  email: string;
  interactionUid: string;
  client: ClientPolicy;
  locale: string;
  /** Feature data stored with the code (the cross-device approval state and context). */
  extra?: Record<string, unknown>;
}

/** May this user sign in to this client by magic link? */
export function mayUseClient(user: UserRecord, client: ClientPolicy): boolean {
  if (!user.active || !client.passwordlessEnabled) return false;
  return !client.requireRegistration || registrationFor(user, client.clientId) !== undefined;
}

/** URL of a hosted-flow link: under /interaction/<uid> so the browser sends the interaction cookie. */
export function interactionLink(issuer: string, interactionUid: string, linkCode: string): string {
  return `${issuer}/interaction/${encodeURIComponent(interactionUid)}/magic/${encodeURIComponent(linkCode)}`;
}

/**
 * The hosted magic-link step: decides whether a request deserves an email and sends it,
 * always off the request path so the page never tells a known address from an unknown one.
 */
export class MagicLinkMailer {
  constructor(
    private readonly deps: {
      config: Config;
      issuer: string;
      users: UserRepository;
      codes: PasswordlessCodes;
      transport: MailTransport;
      outbox: Outbox;
      views: Views;
    },
  ) {}

  /** Queues the work for an email typed on the hosted page; returns at once, whatever the address. */
  requestLink(request: HostedRequest): void {
    this.deps.outbox.enqueue('hosted.request', () => this.#issueAndSend(request));
  }

  /** Queues a fresh link for the user of an earlier code of the same sign-in. */
  resendLink(request: Omit<HostedRequest, 'email'> & { userId: string }): void {
    this.deps.outbox.enqueue('hosted.resend', async () => {
      const user = await this.deps.users.findById(request.userId);
      if (user) await this.#issueAndSend({ ...request, email: user.email });
    });
  }

  async #issueAndSend(request: HostedRequest): Promise<void> {
    const user = await this.deps.users.findByEmail(normalizeEmail(request.email));
    if (!user || !mayUseClient(user, request.client)) {
      log.info('code.not_sent', { reason: user ? 'not_allowed' : 'unknown_address', client: request.client.clientId });
      return;
    }
    const issued = await this.deps.codes.issue({
      userId: user.id,
      clientId: request.client.clientId,
      interactionUid: request.interactionUid,
      withShortCode: true,
      ...(request.extra ? { extra: request.extra } : {}),
    });
    const timeToLive = this.deps.codes.settings.timeToLiveInSeconds;
    const message = await composeMagicLinkMail(this.deps.views, {
      link: interactionLink(this.deps.issuer, request.interactionUid, issued.linkCode),
      code: issued.shortCode,
      user,
      client: { id: request.client.clientId, name: request.client.name },
      state: null,
      expiresAt: new Date(issued.record.expiresAt),
      timeToLive,
      locale: request.locale,
      issuer: this.deps.issuer,
    });
    await this.deps.transport.send(message);
    log.info('code.sent', { user: user.id, client: request.client.clientId });
  }
}
