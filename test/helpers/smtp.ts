import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import PostalMime, { type Email } from 'postal-mime';

export interface ReceivedMail {
  envelope: { from: string; to: string[] };
  /** The user the client authenticated as, if it did. */
  user: string | undefined;
  raw: string;
  parsed: Email;
}

/** An SMTP reply to give instead of accepting a message. */
export interface Refusal {
  code: number;
  message: string;
}

/**
 * A real SMTP server (smtp-server) on a random local port that keeps what it receives,
 * parsed with postal-mime. `refuseNext` makes it answer the next messages with a reply code.
 */
export class TestSmtpServer {
  readonly received: ReceivedMail[] = [];
  /** Every DATA attempt, accepted or not. */
  attempts = 0;
  readonly #refusals: Refusal[] = [];

  private constructor(
    readonly server: SMTPServer,
    readonly port: number,
    readonly secure: boolean,
  ) {}

  /**
   * On `port` (0, the default: any free one), e.g. the port of a {@link deadSmtpUrl} to end an
   * outage. `secure`: TLS from the first byte (smtps://). `starttls`: plain, offering STARTTLS.
   * Either uses `certificate`, else smtp-server's built-in one (self-signed, and expired).
   */
  static async start(
    options: { secure?: boolean; starttls?: boolean; certificate?: { key: string; cert: string }; users?: Record<string, string>; port?: number } = {},
  ): Promise<TestSmtpServer> {
    let instance: TestSmtpServer | null = null;
    const config: SMTPServerOptions = {
      secure: options.secure ?? false,
      ...(options.certificate ? { key: options.certificate.key, cert: options.certificate.cert } : {}),
      logger: false,
      disabledCommands: options.secure || options.starttls ? [] : ['STARTTLS'],
      authOptional: !options.users,
      allowInsecureAuth: true,
      onAuth(auth, _session, callback) {
        const expected = options.users?.[auth.username ?? ''];
        if (expected !== undefined && expected === auth.password) return callback(null, { user: auth.username });
        return callback(Object.assign(new Error('Invalid credentials'), { responseCode: 535 }));
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          instance!.#receive(Buffer.concat(chunks).toString('utf8'), session).then(
            (refusal) => callback(refusal ? Object.assign(new Error(refusal.message), { responseCode: refusal.code }) : null),
            (err: Error) => callback(err),
          );
        });
      },
    };
    const server = new SMTPServer(config);
    // Clients that hang up mid-handshake (a refused certificate) are part of what is tested.
    server.on('error', () => {});
    await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', () => resolve()));
    const port = (server.server.address() as AddressInfo).port;
    instance = new TestSmtpServer(server, port, options.secure ?? false);
    return instance;
  }

  /** smtp://… or smtps://… for this server, with optional credentials. */
  url(credentials?: { user: string; pass: string }): string {
    const auth = credentials ? `${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.pass)}@` : '';
    return `${this.secure ? 'smtps' : 'smtp'}://${auth}127.0.0.1:${this.port}`;
  }

  refuseNext(...refusals: Refusal[]): void {
    this.#refusals.push(...refusals);
  }

  async #receive(raw: string, session: { envelope: { mailFrom: false | { address: string }; rcptTo: { address: string }[] }; user?: unknown }): Promise<Refusal | null> {
    this.attempts += 1;
    const refusal = this.#refusals.shift();
    if (refusal) return refusal;
    this.received.push({
      envelope: {
        from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
        to: session.envelope.rcptTo.map((r) => r.address),
      },
      user: typeof session.user === 'string' ? session.user : undefined,
      raw,
      parsed: await PostalMime.parse(raw),
    });
    return null;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** An smtp:// URL where nothing listens (a port that was free a moment ago): an SMTP outage. */
export async function deadSmtpUrl(): Promise<string> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `smtp://127.0.0.1:${port}`;
}

/** A header's value from a parsed message (first occurrence, key case-insensitive). */
export function headerOf(mail: ReceivedMail, name: string): string | undefined {
  return mail.parsed.headers.find((h) => h.key.toLowerCase() === name.toLowerCase())?.value;
}

/** The magic link in a parsed message's text part. */
export function linkInText(mail: ReceivedMail): string {
  const link = /(http:\/\/\S+\/interaction\/\S+\/magic\/[\w-]+)/.exec(mail.parsed.text ?? '')?.[1];
  if (!link) throw new Error('no magic link in the text part');
  return link;
}
