import { Agent } from 'undici';

/**
 * One bare POST per body, through the client the webhook sender uses (undici's dispatcher,
 * keep-alive): no store, no signature, no cap, no retry. The least any sender of one event per
 * POST can cost, for the benches to set ours against.
 */
export class BarePoster {
  readonly #agent = new Agent();
  readonly #origin: string;
  readonly #path: string;
  #gathered: { body: string; done: (err?: Error) => void }[] = [];
  #gathering: NodeJS.Timeout | null = null;
  /** Bodies waiting to go, and posts not yet answered. */
  pending = 0;

  /** `gatherMs` > 0 holds bodies that long and posts them together, as the sender's `events.gatherMs`. */
  constructor(
    url: string,
    private readonly gatherMs = 0,
  ) {
    const target = new URL(url);
    this.#origin = target.origin;
    this.#path = `${target.pathname}${target.search}`;
  }

  /** Resolves once the receiver's 2xx is read; rejects on any other answer or a failed request. */
  post(body: string): Promise<void> {
    this.pending += 1;
    return new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        this.pending -= 1;
        if (err) reject(err);
        else resolve();
      };
      if (this.gatherMs === 0) return this.#send(body, done);
      this.#gathered.push({ body, done });
      this.#gathering ??= setTimeout(() => {
        this.#gathering = null;
        const gathered = this.#gathered;
        this.#gathered = [];
        for (const one of gathered) this.#send(one.body, one.done);
      }, this.gatherMs);
    });
  }

  close(): Promise<void> {
    return this.#agent.destroy();
  }

  #send(body: string, done: (err?: Error) => void): void {
    let status = 0;
    this.#agent.dispatch(
      { origin: this.#origin, path: this.#path, method: 'POST', headers: { 'content-type': 'application/json' }, body, headersTimeout: 0, bodyTimeout: 0 },
      {
        // Needed even empty: undici takes a handler without it for one of its older shape.
        onRequestStart: () => undefined,
        onResponseStart: (_controller, statusCode) => void (status = statusCode),
        onResponseData: () => undefined,
        onResponseEnd: () => done(status >= 200 && status < 300 ? undefined : new Error(`receiver answered ${status}`)),
        onResponseError: (_controller, err) => done(err),
      },
    );
  }
}
