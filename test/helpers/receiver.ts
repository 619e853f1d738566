import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One POST a webhook receiver got. */
export interface Received {
  body: string;
  headers: http.IncomingHttpHeaders;
  /** The status it answered (null: it timed out or dropped the connection on purpose). */
  answered: number | null;
  event: { id: string; type: string; [field: string]: unknown };
}

/**
 * What the receiver does with delivery number n (0-based, over all deliveries): answer a status,
 * hang until the sender gives up ('hang'), or drop the connection ('drop').
 */
export type Behaviour = (n: number, event: Received['event']) => number | 'hang' | 'drop';

export interface Receiver {
  url: string;
  received: Received[];
  /** Deliveries it acknowledged with a 2xx, in the order it did. */
  acknowledged(): Received[];
  behaviour: Behaviour;
  /** Resolves once `count` deliveries were acknowledged; rejects after `timeoutMs`. */
  waitForAcknowledged(count: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

/** A webhook receiver on loopback (node:http), as an integrator would run one. */
export async function startReceiver(behaviour: Behaviour = () => 200): Promise<Receiver> {
  const received: Received[] = [];
  const held = new Set<http.ServerResponse>();
  const receiver: Receiver = {
    url: '',
    received,
    behaviour,
    acknowledged: () => received.filter((r) => r.answered !== null && r.answered >= 200 && r.answered < 300),
    async waitForAcknowledged(count, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (receiver.acknowledged().length < count) {
        if (Date.now() > deadline) throw new Error(`only ${receiver.acknowledged().length} of ${count} deliveries acknowledged; got ${received.map((r) => `${r.event.type}:${r.answered}`).join(', ')}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return receiver.acknowledged();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of held) res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const event = (JSON.parse(body) as { event: Received['event'] }).event;
      const entry: Received = { body, headers: req.headers, answered: null, event };
      const action = receiver.behaviour(received.length, event);
      received.push(entry);
      if (action === 'hang') {
        held.add(res);
        res.once('close', () => held.delete(res));
        return;
      }
      if (action === 'drop') return void req.socket.destroy();
      entry.answered = action;
      res.statusCode = action;
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return receiver;
}
