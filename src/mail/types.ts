import type { MagicLinkMessageParts } from '../plugin/options.js';

/** One email, ready to send. Every field is plain data: transports build the headers from it. */
export interface MailMessage {
  to: string;
  /** Display name for the To header; encoded by the transport, never pasted into a header. */
  toName?: string;
  subject: string;
  text: string;
  html: string;
  /** BCP 47 tag of the text, sent as Content-Language. */
  language?: string;
  /** What the email was made of (link, code, expiry…), for a host that sends its own mail; transports ignore it. */
  parts?: MagicLinkMessageParts;
}

/** Where mail goes: an SMTP server, or the development mailbox. */
export interface MailTransport {
  readonly kind: 'smtp' | 'dev-mailbox' | 'custom';
  send(message: MailMessage): Promise<void>;
  close(): Promise<void>;
}
