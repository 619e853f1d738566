import { describeError, log } from '../log.js';

/**
 * Runs mail work off the request path, so a page's content and timing never depend on
 * whether an email was sent. `drain()` waits for queued work (shutdown, tests).
 */
export class Outbox {
  readonly #pending = new Set<Promise<void>>();

  enqueue(label: string, job: () => Promise<void>): void {
    const run = new Promise<void>((resolve) => setImmediate(resolve))
      .then(job)
      .catch((err: unknown) => log.error('outbox.failed', { job: label, ...describeError(err) }))
      .finally(() => this.#pending.delete(run));
    this.#pending.add(run);
  }

  async drain(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }
}
