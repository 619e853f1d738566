import { randomUUID } from 'node:crypto';
import type { MailMessage, MailTransport } from './types.js';

export interface StoredMail extends MailMessage {
  id: string;
  date: string;
}

/** Development transport: keeps the newest `capacity` emails in memory for /dev/mail. */
export class DevMailbox implements MailTransport {
  readonly kind = 'dev-mailbox' as const;
  readonly #messages: StoredMail[] = [];

  constructor(private readonly capacity: number) {}

  async send(message: MailMessage): Promise<void> {
    // The raw parts a host's own sender gets are not part of the email (nor of /dev/mail.json).
    const { parts: _parts, ...email } = message;
    this.#messages.unshift({ id: randomUUID(), date: new Date().toISOString(), ...email });
    this.#messages.length = Math.min(this.#messages.length, this.capacity);
  }

  /** Newest first. */
  list(): StoredMail[] {
    return this.#messages.map((m) => ({ ...m }));
  }

  async close(): Promise<void> {}
}
