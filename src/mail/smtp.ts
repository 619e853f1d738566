import nodemailer, { type Transporter } from 'nodemailer';
import type { MailMessage, MailTransport } from './types.js';

export interface SmtpOptions {
  url: string;
  from: string;
  replyTo: string | null;
}

/** Sends through an SMTP server named by an smtp:// or smtps:// URL (credentials in the URL). */
export class SmtpTransport implements MailTransport {
  readonly kind = 'smtp' as const;
  readonly #transporter: Transporter;

  constructor(private readonly options: SmtpOptions) {
    // Pooled: one connection (and TLS handshake) per burst rather than per message. Settings in
    // the URL's query (e.g. ?pool=false, ?maxConnections=2) still win over this default.
    this.#transporter = nodemailer.createTransport({ url: options.url, pool: true });
  }

  async send(message: MailMessage): Promise<void> {
    await this.#transporter.sendMail({
      from: this.options.from,
      ...(this.options.replyTo ? { replyTo: this.options.replyTo } : {}),
      to: message.to,
      subject: message.subject,
      text: message.text,
      html: message.html,
      headers: { 'Auto-Submitted': 'auto-generated' },
    });
  }

  async close(): Promise<void> {
    this.#transporter.close();
  }
}
