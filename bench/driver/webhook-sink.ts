import { fork } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A webhook receiver for the `webhooks` contender: reads each delivery and answers 200, counting
 * them. It runs in a process of its own, so the driver's event loop (the load generator and the
 * SMTP sink) does not also carry every delivery the contender sends.
 */
export async function startWebhookSink(): Promise<{ url: string; received: () => Promise<number>; close(): Promise<void> }> {
  const child = fork(new URL(import.meta.url).pathname, ['--serve'], { execArgv: ['--import', 'tsx'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message) => resolve((message as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`the webhook receiver exited (code ${code})`)));
  });
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received: () =>
      new Promise<number>((resolve) => {
        child.once('message', (message) => resolve((message as { received: number }).received));
        child.send({ type: 'count' });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.disconnect();
      }),
  };
}

/** The receiver process. */
function serve(): void {
  let received = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received += 1;
      res.end('ok');
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
  process.on('message', () => process.send?.({ received }));
  process.on('disconnect', () => process.exit(0));
}

if (process.argv.includes('--serve')) serve();
