import { randomUUID } from 'node:crypto';
import nodemailer, { type SendMailOptions, type Transporter } from 'nodemailer';
import type { MailMessage, MailTransport } from './types.js';
import { senderDomain } from './sender.js';

export interface SmtpOptions {
  /** smtp:// (STARTTLS when offered) or smtps:// (TLS from the start); credentials in the URL. */
  url: string;
  from: string;
  replyTo: string | null;
  /** Keep connections open and reuse them. */
  pool: boolean;
  maxConnections: number;
  /** Refuse to send over smtp:// when the server does not offer STARTTLS. */
  requireTLS: boolean;
  connectionTimeoutMs: number;
  tls: { rejectUnauthorized: boolean; minVersion: string; servername: string | null };
}

/** Control characters (CR and LF above all) have no place in a display name. */
function singleLine(value: string): string {
  return value.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}

/** The message as nodemailer takes it (exported for `npm run bench:mail`). */
export function nodemailerMessage(sender: Pick<SmtpOptions, 'from' | 'replyTo'>, message: MailMessage): SendMailOptions {
  // nodemailer encodes every structured field (addresses, names, subject) itself; only
  // fixed strings go into `headers`, so nothing a user typed can start a header line.
  return {
    from: sender.from,
    ...(sender.replyTo ? { replyTo: sender.replyTo } : {}),
    to: message.toName ? { name: singleLine(message.toName), address: message.to } : message.to,
    subject: singleLine(message.subject),
    text: message.text,
    html: message.html,
    date: new Date(),
    // Message-IDs name their sender's domain.
    messageId: `<${randomUUID()}@${senderDomain(sender.from) ?? 'localhost'}>`,
    headers: {
      'Auto-Submitted': 'auto-generated',
      // Asks Exchange/Outlook not to answer with out-of-office replies.
      'X-Auto-Response-Suppress': 'All',
      ...(message.language ? { 'Content-Language': message.language } : {}),
    },
  };
}

/** Sends through an SMTP server named by an smtp:// or smtps:// URL. */
export class SmtpTransport implements MailTransport {
  readonly kind = 'smtp' as const;
  readonly #transporter: Transporter;

  constructor(private readonly options: SmtpOptions) {
    const { tls } = options;
    this.#transporter = nodemailer.createTransport({
      url: options.url,
      pool: options.pool,
      maxConnections: options.maxConnections,
      requireTLS: options.requireTLS,
      connectionTimeout: options.connectionTimeoutMs,
      greetingTimeout: options.connectionTimeoutMs,
      socketTimeout: options.connectionTimeoutMs * 3,
      tls: { rejectUnauthorized: tls.rejectUnauthorized, minVersion: tls.minVersion as 'TLSv1.2', ...(tls.servername ? { servername: tls.servername } : {}) },
    });
  }

  async send(message: MailMessage): Promise<void> {
    await this.#transporter.sendMail(nodemailerMessage(this.options, message));
  }

  async close(): Promise<void> {
    this.#transporter.close();
  }
}
