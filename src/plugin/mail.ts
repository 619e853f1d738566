import type { MailMessage, MailTransport } from '../mail/types.js';
import { SmtpTransport, nodemailerMessage } from '../mail/smtp.js';
import type { MagicLinkMailOptions, MailTransporterLike } from './options.js';

/** SMTP settings the plugin uses with `smtpUrl`: pooled, certificates checked. */
const SMTP_DEFAULTS = { pool: true, maxConnections: 5, requireTLS: false, connectionTimeoutMs: 10_000, tls: { rejectUnauthorized: true, minVersion: 'TLSv1.2', servername: null } };

/** The transport the mail options name: an SMTP URL, the host's nodemailer transport, or the host's `send`. */
export function transportOf(mail: MagicLinkMailOptions): MailTransport {
  const sender = { from: mail.from ?? '', replyTo: mail.replyTo ?? null };
  if (mail.smtpUrl) return new SmtpTransport({ url: mail.smtpUrl, ...sender, ...SMTP_DEFAULTS });
  if (mail.transport) return nodemailerTransport(mail.transport, sender);
  const send = mail.send!;
  return { kind: 'custom', send: (message) => send(message), close: async () => undefined };
}

function nodemailerTransport(transporter: MailTransporterLike, sender: { from: string; replyTo: string | null }): MailTransport {
  return {
    kind: 'smtp',
    async send(message: MailMessage) {
      await transporter.sendMail(nodemailerMessage(sender, message) as Record<string, unknown>);
    },
    // The host's transport is the host's to close.
    close: async () => undefined,
  };
}
