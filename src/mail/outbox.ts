import type { ServerResponse } from 'node:http';
import { describeError, log } from '../log.js';

/**
 * Resolves once the response has been handed to the network (or the client went away).
 * Work that must not show in a response's timing waits for this: started any earlier, it
 * shares the event loop with the rendering of the very page it must not influence.
 */
export function responseDone(res: ServerResponse): Promise<void> {
  if (res.writableFinished || res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    res.once('finish', resolve);
    res.once('close', resolve);
  });
}

/** How long work held back for a response waits once the response is out. */
const AFTER_RESPONSE_DELAY_MS = 10;

/**
 * Runs mail work off the request path, so a page's content and timing never depend on
 * whether an email was sent. `drain()` waits for queued work (shutdown, tests).
 */
export class Outbox {
  readonly #pending = new Set<Promise<void>>();

  /**
   * Queues `job`. Without `after` it starts on the next turn of the event loop; with `after`
   * (e.g. {@link responseDone}) it starts a little after that settles: `npm run timing-check`
   * showed that work begun at once still overlaps the client reading the answer (≈0.5 ms
   * on a busy host), and a few milliseconds of delay cost an email nothing.
   */
  enqueue(label: string, job: () => Promise<void>, after?: Promise<void>): void {
    const start = after
      ? after.then(() => new Promise<void>((resolve) => setTimeout(resolve, AFTER_RESPONSE_DELAY_MS)))
      : new Promise<void>((resolve) => setImmediate(resolve));
    const run = start
      .then(job)
      .catch((err: unknown) => log.error('outbox.failed', { job: label, ...describeError(err) }))
      .finally(() => this.#pending.delete(run));
    this.#pending.add(run);
  }

  async drain(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }
}
