import { setTimeout as sleep } from 'node:timers/promises';
import { log } from '../log.js';
import { backoffDelay } from '../backoff.js';
import { MailUnavailableError, causeOf, errorCodeOf, isCertificateRefused, isTransientMailError, responseCodeOf } from './errors.js';
import type { MailMessage, MailTransport } from './types.js';

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  /** Wait before the second try; doubles for each further one. */
  initialDelayMs: number;
  /** Upper bound of one wait. */
  maxDelayMs: number;
}

/** Counters since start-up (for health pages and tests). */
export interface MailStats {
  sent: number;
  /** Tries that failed transiently and were tried again. */
  retried: number;
  /** Messages given up after every try failed transiently. */
  failedTransient: number;
  /** Messages the server refused for good. */
  failedPermanent: number;
}

/**
 * Hands messages to the transport with bounded retries and exponential backoff (with jitter,
 * so instances that failed together do not retry together). Logs outcomes by recipient domain,
 * SMTP reply code and error codes only: an email's subject, link and code never reach the log.
 */
export class MailDelivery {
  readonly stats: MailStats = { sent: 0, retried: 0, failedTransient: 0, failedPermanent: 0 };

  constructor(
    readonly transport: MailTransport,
    private readonly retry: RetryPolicy,
  ) {}

  /**
   * Sends now, retrying transient failures. Resolves once the server accepted the message;
   * rejects with {@link MailUnavailableError} otherwise.
   */
  async sendNow(message: MailMessage, purpose: string): Promise<void> {
    log.debug('mail.queued', { purpose });
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.transport.send(message);
        this.stats.sent += 1;
        log.debug('mail.accepted', { purpose, attempt });
        return;
      } catch (err) {
        const transient = isTransientMailError(err);
        const facts = { purpose, attempt, domain: domainOf(message.to), smtpCode: responseCodeOf(err), errorCode: errorCodeOf(err), cause: causeOf(err), ...reasonOf(err) };
        if (transient && attempt < this.retry.attempts) {
          this.stats.retried += 1;
          log.warn('mail.retry', facts);
          await sleep(backoffDelay(attempt, { initialMs: this.retry.initialDelayMs, maxMs: this.retry.maxDelayMs, jitter: 0.25 }));
          continue;
        }
        if (transient) this.stats.failedTransient += 1;
        else this.stats.failedPermanent += 1;
        log.error('mail.failed', { ...facts, permanent: !transient });
        throw new MailUnavailableError(!transient, responseCodeOf(err));
      }
    }
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

/** What an operator has to do, for the failures only configuration fixes. */
function reasonOf(err: unknown): { reason?: string } {
  return isCertificateRefused(err) ? { reason: 'tls_certificate_refused' } : {};
}
