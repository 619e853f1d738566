import type { Config } from '../config/schema.js';
import { DevMailbox } from './dev-mailbox.js';
import { SmtpTransport } from './smtp.js';
import type { MailTransport } from './types.js';

export type { MailMessage, MailTransport } from './types.js';

/** SMTP when configured, else the development mailbox. */
export function createTransport(config: Config): MailTransport {
  if (config.mail.smtpUrl) {
    return new SmtpTransport({ url: config.mail.smtpUrl, from: config.mail.from, replyTo: config.mail.replyTo });
  }
  return new DevMailbox(config.mail.devMailboxSize);
}
