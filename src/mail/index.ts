import type { Config } from '../config/schema.js';
import { ConfigError } from '../config/load.js';
import { DevMailbox } from './dev-mailbox.js';
import { SmtpTransport } from './smtp.js';
import type { MailTransport } from './types.js';

export type { MailMessage, MailTransport } from './types.js';
export { MailDelivery, type MailStats, type RetryPolicy } from './delivery.js';
export { MailUnavailableError } from './errors.js';

/** SMTP when configured, else the development mailbox (which production refuses: no email would leave). */
export function createTransport(config: Config): MailTransport {
  const { mail } = config;
  if (mail.smtpUrl) {
    return new SmtpTransport({ url: mail.smtpUrl, from: mail.from, replyTo: mail.replyTo, ...mail.smtp });
  }
  if (config.production) {
    throw new ConfigError('invalid configuration:\n  - mail.smtpUrl: production needs an SMTP server (set SMTP_URL); the dev mailbox sends nothing');
  }
  return new DevMailbox(mail.devMailboxSize);
}
