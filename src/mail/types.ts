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
}

/** Where mail goes: an SMTP server, or the development mailbox. */
export interface MailTransport {
  readonly kind: 'smtp' | 'dev-mailbox';
  send(message: MailMessage): Promise<void>;
  close(): Promise<void>;
}
