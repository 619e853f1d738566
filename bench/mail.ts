/**
 * `npm run bench:mail`: CPU per magic-link email in the sending process, taken apart. The
 * message is rendered from our own templates once, then sent again and again to an SMTP
 * server in a child process (so its CPU is not counted), in four ways that alternate by round:
 *
 *   compose      nodemailer's MailComposer building the MIME message, nothing sent
 *   ours         SmtpTransport.send: what the server does for every email (compose + SMTP)
 *   raw          the message composed once, then sent with nodemailer's `raw`: the SMTP part
 *   socket       the composed message written over one socket with pipelined commands:
 *                the least any SMTP client could spend on the exchange
 */
import { fork } from 'node:child_process';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import nodemailer from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import { SMTPServer } from 'smtp-server';
import { Catalog } from '../src/i18n/catalog.js';
import { Views } from '../src/render/views.js';
import { composeMagicLinkMail } from '../src/mail/magic-link.js';
import { countFlag } from './driver/stats.js';
import { SmtpTransport, nodemailerMessage, type SmtpOptions } from '../src/mail/smtp.js';
import { buildUser } from '../src/accounts/users.js';
import { projectRoot } from '../src/config/load.js';
import type { MailMessage } from '../src/mail/types.js';

/** The child: an SMTP server that accepts and drops every message, and reports its port. */
function runSink(): void {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    onData(stream, _session, callback) {
      stream.on('data', () => {});
      stream.on('end', () => callback());
    },
  });
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.server.address() as AddressInfo).port }));
  process.on('disconnect', () => process.exit(0));
}

async function main(): Promise<void> {
  const { values: flags } = parseArgs({
    options: {
      messages: { type: 'string', default: '3000' },
      rounds: { type: 'string', default: '2' },
      concurrency: { type: 'string', default: '16' },
    },
  });
  const messages = countFlag('messages', flags.messages);
  const rounds = countFlag('rounds', flags.rounds);
  const concurrency = countFlag('concurrency', flags.concurrency);

  const sink = fork(new URL(import.meta.url).pathname, ['--sink'], { execArgv: ['--import', 'tsx'] });
  const port = await new Promise<number>((resolve) => sink.once('message', (m: { port: number }) => resolve(m.port)));
  const sender: SmtpOptions = {
    url: `smtp://127.0.0.1:${port}`,
    from: 'Sign-in <no-reply@bench.test>',
    replyTo: null,
    pool: true,
    maxConnections: 5,
    requireTLS: false,
    connectionTimeoutMs: 10_000,
    tls: { rejectUnauthorized: false, minVersion: 'TLSv1.2', servername: null },
  };
  const message = await magicLinkMessage();
  const ours = new SmtpTransport(sender);
  const rawTransport = nodemailer.createTransport({ host: '127.0.0.1', port, pool: true, maxConnections: 5, ignoreTLS: true });
  const composed = await new MailComposer(nodemailerMessage(sender, message)).compile().build();
  const envelope = { from: 'no-reply@bench.test', to: [message.to] };
  const socket = await PipelinedSmtp.connect(port);
  // SMTP's transparency rule, applied once: a line that starts with a dot gets a second one.
  const stuffed = Buffer.from(composed.toString('latin1').replace(/^\./gm, '..'), 'latin1');

  const variants: [string, number, () => Promise<unknown>][] = [
    ['compose (MailComposer, nothing sent)', 1, () => new MailComposer(nodemailerMessage(sender, message)).compile().build()],
    ['ours (SmtpTransport.send)', concurrency, () => ours.send(message)],
    ['raw (composed once, sent by nodemailer)', concurrency, () => rawTransport.sendMail({ envelope, raw: composed })],
    ['socket (composed once, pipelined SMTP)', concurrency, () => socket.send(envelope.from, message.to, stuffed)],
  ];
  console.log(`${messages} messages of ${composed.length} bytes per variant and round; CPU of this process only\n`);
  for (let round = 1; round <= rounds; round += 1) {
    for (const [label, parallel, send] of variants) {
      const { cpuMs, perSecond } = await measure(messages, parallel, send);
      console.log(`round ${round}  ${label.padEnd(40)} ${cpuMs.toFixed(3)} ms CPU per message  (${Math.round(perSecond)}/s, ${parallel} at a time)`);
    }
  }
  await ours.close();
  rawTransport.close();
  socket.close();
  sink.disconnect();
}

/** A magic-link email as the server renders it for a hosted sign-in. */
async function magicLinkMessage(): Promise<MailMessage> {
  const catalog = new Catalog([path.join(projectRoot, 'locales')], 'en');
  const views = new Views(path.join(projectRoot, 'views'), null, catalog);
  return composeMagicLinkMail(views, {
    link: `https://id.bench.test/interaction/${'u'.repeat(21)}/magic/${'c'.repeat(43)}`,
    code: '493027',
    crossDevice: true,
    user: buildUser({ email: 'ada@bench.test', firstName: 'Ada', lastName: 'Lovelace', timezone: 'Europe/London' }),
    client: { id: 'web', name: 'Web App' },
    state: null,
    expiresAt: new Date(Date.now() + 600_000),
    timeToLive: 600,
    locale: 'en',
    issuer: 'https://id.bench.test',
  });
}

/** Warms up, then sends `count` messages, `parallel` at a time; CPU of this process per message. */
async function measure(count: number, parallel: number, send: () => Promise<unknown>): Promise<{ cpuMs: number; perSecond: number }> {
  for (let i = 0; i < 300; i += 1) await send();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  let left = count;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (left > 0) {
        left -= 1;
        await send();
      }
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  return { cpuMs: (cpu.user + cpu.system) / 1000 / count, perSecond: (count * 1000) / (performance.now() - started) };
}

/**
 * One SMTP connection that sends each message as two writes (envelope commands pipelined,
 * then the data, already dot-stuffed) and reads the replies; messages queue one behind
 * another. A floor for the exchange, not a client: no error handling beyond failing the run.
 */
class PipelinedSmtp {
  readonly #socket: net.Socket;
  readonly #waiting: ((line: string) => void)[] = [];
  #buffered = '';
  #queue: Promise<void> = Promise.resolve();

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.#read(chunk));
  }

  static async connect(port: number): Promise<PipelinedSmtp> {
    const client = new PipelinedSmtp(net.connect(port, '127.0.0.1'));
    await client.#reply(220);
    client.#socket.write('EHLO bench.test\r\n');
    await client.#reply(250);
    return client;
  }

  send(from: string, to: string, data: Buffer): Promise<void> {
    const sent = this.#queue.then(async () => {
      const replies = [this.#reply(250), this.#reply(250), this.#reply(354)];
      this.#socket.write(`MAIL FROM:<${from}>\r\nRCPT TO:<${to}>\r\nDATA\r\n`);
      await Promise.all(replies);
      const accepted = this.#reply(250);
      this.#socket.write(Buffer.concat([data, Buffer.from('\r\n.\r\n')]));
      await accepted;
    });
    this.#queue = sent;
    return sent;
  }

  close(): void {
    this.#socket.end('QUIT\r\n');
  }

  #reply(code: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#waiting.push((line) => (line.startsWith(String(code)) ? resolve() : reject(new Error(`SMTP: expected ${code}, got ${line}`))));
    });
  }

  #read(chunk: string): void {
    this.#buffered += chunk;
    for (let end = this.#buffered.indexOf('\r\n'); end !== -1; end = this.#buffered.indexOf('\r\n')) {
      const line = this.#buffered.slice(0, end);
      this.#buffered = this.#buffered.slice(end + 2);
      // "250-" continues a multi-line reply; only its last line ("250 ") answers.
      if (line[3] !== '-') this.#waiting.shift()?.(line);
    }
  }
}

if (process.argv[2] === '--sink') runSink();
else await main();
