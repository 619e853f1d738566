/**
 * An SMTP server in the driver process that the server under test sends its magic-link mail
 * to. Each message's link is handed to whoever waits for that interaction uid.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import PostalMime from 'postal-mime';

const LINK = /http:\/\/[^\s"'<>]+\/interaction\/([^\s"'<>/]+)\/magic\/[\w-]+/;

/** Undoes quoted-printable soft breaks and escapes; plain 7bit text passes through. */
function decodeQuotedPrintable(raw: string): string {
  return raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

export class SmtpSink {
  readonly #waiting = new Map<string, { resolve: (link: string) => void; timer: NodeJS.Timeout }>();
  readonly #server: SMTPServer;
  received = 0;
  unclaimed = 0;
  port = 0;

  constructor() {
    this.#server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      disableReverseLookup: true,
      logger: false,
      size: 1024 * 1024,
      onData: (stream, _session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          callback();
          void this.#deliver(Buffer.concat(chunks));
        });
      },
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.server.address() as AddressInfo).port;
    return `smtp://127.0.0.1:${this.port}`;
  }

  /** Resolves with the link of the next email for `uid`, or null after `timeoutMs`. */
  waitFor(uid: string, timeoutMs: number): Promise<string | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(uid);
        resolve(null);
      }, timeoutMs);
      this.#waiting.set(uid, { resolve, timer });
    });
  }

  cancel(uid: string): void {
    const waiter = this.#waiting.get(uid);
    if (waiter) clearTimeout(waiter.timer);
    this.#waiting.delete(uid);
  }

  async #deliver(raw: Buffer): Promise<void> {
    this.received += 1;
    let match = LINK.exec(decodeQuotedPrintable(raw.toString('latin1')));
    if (!match) {
      const parsed = await PostalMime.parse(raw);
      match = LINK.exec(parsed.text ?? '');
    }
    const uid = match?.[1];
    const waiter = uid === undefined ? undefined : this.#waiting.get(uid);
    if (!match || !uid || !waiter) {
      this.unclaimed += 1;
      return;
    }
    clearTimeout(waiter.timer);
    this.#waiting.delete(uid);
    waiter.resolve(match[0]);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
