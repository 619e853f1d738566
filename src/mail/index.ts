import type { Config } from '../config/schema.js';
import { DevMailbox } from './dev-mailbox.js';
import { SmtpTransport } from './smtp.js';
import type { MailTransport } from './types.js';

export type { MailMessage, MailTransport } from './types.js';
export { MailDelivery, type MailStats, type RetryPolicy } from './delivery.js';
export { MailUnavailableError } from './errors.js';

/** SMTP when configured, else the development mailbox. */
export function createTransport(config: Config): MailTransport {
  const { mail } = config;
  if (mail.smtpUrl) {
    return new SmtpTransport({ url: mail.smtpUrl, from: mail.from, replyTo: mail.replyTo, ...mail.smtp });
  }
  return new DevMailbox(mail.devMailboxSize);
}
