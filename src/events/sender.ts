import { randomUUID } from 'node:crypto';
import { Agent, type Dispatcher } from 'undici';
import type { Config } from '../config/schema.js';
import type { WebhookDeliveryRecord, WebhookDeliveryRepository } from '../storage/types.js';
import { describeError, log } from '../log.js';
import { signatureHeaders } from './signature.js';
import { FIXED_HEADERS } from './delivery-headers.js';
import { backoffDelay } from '../backoff.js';
import { derivedOnce } from '../memo.js';

type Webhook = Config['webhooks'][number];

/** What one try came to: delivered (2xx), or why not. */
type TryOutcome = { ok: true; status: number } | { ok: false; status: number | null; error: string };

/**
 * Posts stored deliveries to their webhooks, in the background of each instance: leases due
 * deliveries from the store (so with many instances each is sent by one at a time), sends each
 * with its signatures, and marks it delivered, or due again later (exponential backoff with
 * jitter), or failed once it is older than `maxAgeHours`. A crash loses nothing: a leased
 * delivery nobody settles is due again when its lease ends, and is sent with the same event id.
 */
export class WebhookSender {
  readonly #owner = randomUUID();
  readonly #hooks: ReadonlyMap<string, Webhook>;
  readonly #inFlightByUrl = new Map<string, number>();
  readonly #inFlight = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | null = null;
  #soon: NodeJS.Immediate | null = null;
  /** The wait of `gatherMs` after a write, while more events come to go out with it. */
  #gathering: NodeJS.Timeout | null = null;
  /** The last lease filled every free slot or skipped a webhook at its cap: more may be due. */
  #backlogged = false;
  #ticking = false;
  #again = false;
  #stopped = false;
  /**
   * Keep-alive connections per origin: one sender posts many deliveries to few URLs. undici's
   * dispatcher rather than node:http: in `npm run bench:webhooks` a bare exchange costs about 40 %
   * less CPU through it, and it never follows a redirect (one could take the signed event
   * anywhere: a 3xx counts as a failed try).
   */
  readonly #agent = new Agent();
  /** How to end each try in flight early (a stop's grace period is over). */
  readonly #cutOffs = new Set<(reason: string) => void>();
  /** Each webhook's URL taken apart, and the headers of all its tries put together, once, not on every try. */
  readonly #targetOf = derivedOnce((hook: Webhook) => {
    const url = new URL(hook.url);
    return { origin: url.origin, path: `${url.pathname}${url.search}`, headers: { ...hook.headers, ...FIXED_HEADERS } };
  });

  constructor(
    private readonly deliveries: WebhookDeliveryRepository,
    webhooks: readonly Webhook[],
    private readonly settings: Config['events'],
  ) {
    this.#hooks = new Map(webhooks.map((hook) => [hook.id, hook]));
  }

  /** Starts polling (every `pollMs`); a no-op without webhooks. */
  start(): void {
    if (this.#hooks.size === 0 || this.#timer) return;
    this.#timer = setInterval(() => this.#tick(), this.settings.pollMs);
    this.#timer.unref();
    this.kick();
  }

  /**
   * Looks for due deliveries in `gatherMs` (called when this instance wrote some, or a try
   * ended): the events of that while go out together, each still in a POST of its own, so they
   * share the event loop's wake-ups. One by one, each delivery paid for its own (`npm run
   * bench:webhooks -- --pace 6`: a bare exchange cost about half as much CPU gathered over 20 ms).
   * With `gatherMs` 0, or while more is due than slots were free, on the next turn of the loop.
   */
  kick(): void {
    if (this.#stopped || this.#hooks.size === 0 || this.#soon || this.#gathering) return;
    if (this.settings.gatherMs === 0 || this.#backlogged) {
      this.#soon = setImmediate(() => {
        this.#soon = null;
        this.#tick();
      });
      return;
    }
    this.#gathering = setTimeout(() => {
      this.#gathering = null;
      this.#tick();
    }, this.settings.gatherMs);
  }

  /**
   * Stops polling and gives the tries in flight `graceMs` to finish; the rest are aborted and
   * recorded as failed tries (due again, for this or another instance).
   */
  async stop(graceMs = 2000): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#soon) clearImmediate(this.#soon);
    if (this.#gathering) clearTimeout(this.#gathering);
    const grace = setTimeout(() => {
      for (const cutOff of this.#cutOffs) cutOff('stopped');
    }, graceMs);
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    clearTimeout(grace);
    await this.#agent.destroy();
  }

  /** Waits until nothing is due or in flight in this instance (tests, shutdown). */
  async settled(): Promise<void> {
    for (;;) {
      while (this.#ticking || this.#inFlight.size > 0) await new Promise((resolve) => setTimeout(resolve, 5));
      const now = Date.now();
      // Leased elsewhere (another instance) is not this instance's to wait for.
      const due = (await this.deliveries.list({ status: 'pending', limit: 1000 })).some((d) => d.nextAttemptAt <= now && d.leaseUntil <= now && this.#hooks.has(d.webhookId));
      if (!due) return;
      this.#tick();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  #capacity(): number {
    return this.#hooks.size * this.settings.concurrencyPerUrl - this.#inFlight.size;
  }

  // The paths below run for every delivery, so they chain promises with `then` rather than
  // `async`/`await`: node-oidc-provider keeps an AsyncLocalStorage, and while one is in use every
  // promise made in the process pays for an async hook. Chained, a delivery makes half as many.

  #tick(): void {
    if (this.#stopped) return;
    if (this.#ticking) {
      this.#again = true;
      return;
    }
    this.#ticking = true;
    this.#leaseAndSend().then(this.#ticked, this.#tickFailed);
  }

  readonly #ticked = (): void => {
    this.#ticking = false;
    if (this.#again) {
      this.#again = false;
      this.#tick();
    }
  };

  readonly #tickFailed = (err: unknown): void => {
    log.warn('webhook.lease_failed', describeError(err));
    this.#ticked();
  };

  #leaseAndSend(): Promise<unknown> {
    const free = this.#capacity();
    if (free <= 0) return Promise.resolve();
    const now = Date.now();
    // Webhooks whose URL is at its cap are left out, so their backlog never takes the slots of the others.
    const atCap: string[] = [];
    for (const hook of this.#hooks.values()) if ((this.#inFlightByUrl.get(hook.url) ?? 0) >= this.settings.concurrencyPerUrl) atCap.push(hook.id);
    return this.deliveries.lease(now, this.#owner, this.settings.leaseSeconds * 1000, free, atCap).then((leased) => {
      this.#backlogged = leased.length >= free || atCap.length > 0;
      return this.#sendLeased(leased, now);
    });
  }

  /** Starts a try of each leased delivery; resolves once those it could not start are handed back. */
  #sendLeased(leased: readonly WebhookDeliveryRecord[], now: number): Promise<unknown> | undefined {
    const handedBack: Promise<void>[] = [];
    for (const delivery of leased) {
      const hook = this.#hooks.get(delivery.webhookId);
      if (!hook) {
        // A webhook removed from the configuration: nothing will ever take its deliveries.
        handedBack.push(this.#settle(delivery, { status: 'failed', settledAt: now, lastError: 'webhook no longer configured', leaseOwner: null, leaseUntil: 0 }));
        continue;
      }
      const busy = this.#inFlightByUrl.get(hook.url) ?? 0;
      if (busy >= this.settings.concurrencyPerUrl) {
        // This URL is at its cap: hand the lease back untried, so another instance (or a later tick) takes it.
        handedBack.push(this.#settle(delivery, { leaseOwner: null, leaseUntil: 0 }));
        continue;
      }
      this.#inFlightByUrl.set(hook.url, busy + 1);
      const ended = (): void => {
        this.#inFlightByUrl.set(hook.url, (this.#inFlightByUrl.get(hook.url) ?? 1) - 1);
        this.#inFlight.delete(run);
        // A freed slot may take a delivery that waited behind this one.
        this.kick();
      };
      const run: Promise<void> = this.#deliver(delivery, hook).then(ended, (err: unknown) => {
        // A fault of ours must not end the process: the lease runs out and the delivery is tried again.
        log.error('webhook.deliver_failed', { webhook: hook.id, eventId: delivery.eventId, ...describeError(err) });
        ended();
      });
      this.#inFlight.add(run);
    }
    return handedBack.length > 0 ? Promise.all(handedBack) : undefined;
  }

  #deliver(delivery: WebhookDeliveryRecord, hook: Webhook): Promise<void> {
    const attempt = delivery.attempts + 1;
    return this.#try(delivery, hook, attempt).then((outcome) => this.#record(delivery, hook, attempt, outcome));
  }

  /** Logs a try's outcome and settles the delivery: delivered, due again after a backoff, or failed once too old. */
  #record(delivery: WebhookDeliveryRecord, hook: Webhook, attempt: number, outcome: TryOutcome): Promise<void> {
    const now = Date.now();
    // Not `event`: that is the log line's own name.
    const facts = { webhook: hook.id, eventId: delivery.eventId, type: delivery.type, attempt, status: outcome.status };
    if (outcome.ok) {
      log.info('webhook.delivered', facts);
      return this.#settle(delivery, { status: 'delivered', attempts: attempt, lastStatus: outcome.status, lastError: null, settledAt: now, leaseOwner: null, leaseUntil: 0 });
    }
    const next = now + backoffDelay(attempt, { initialMs: this.settings.retryInitialMs, maxMs: this.settings.retryMaxMs, jitter: 0.5 });
    if (next > delivery.createdAt + this.settings.maxAgeHours * 3_600_000) {
      log.error('webhook.failed', { ...facts, error: outcome.error, reason: 'max_age' });
      return this.#settle(delivery, { status: 'failed', attempts: attempt, lastStatus: outcome.status, lastError: outcome.error, settledAt: now, leaseOwner: null, leaseUntil: 0 });
    }
    log.warn('webhook.retry', { ...facts, error: outcome.error, retryInMs: next - now });
    return this.#settle(delivery, { attempts: attempt, lastStatus: outcome.status, lastError: outcome.error, nextAttemptAt: next, leaseOwner: null, leaseUntil: 0 });
  }

  #try(delivery: WebhookDeliveryRecord, hook: Webhook, attempt: number): Promise<TryOutcome> {
    const target = this.#targetOf(hook);
    const headers = {
      ...target.headers,
      'X-OML-Event-Id': delivery.eventId,
      'X-OML-Event-Type': delivery.type,
      'X-OML-Delivery-Attempt': String(attempt),
      ...signatureHeaders(hook.secret, delivery.body),
    };
    const { origin, path } = target;
    return new Promise<TryOutcome>((resolve) => {
      let status = 0;
      let controller: Dispatcher.DispatchController | null = null;
      let cutReason: string | null = null;
      const finish = (outcome: TryOutcome): void => {
        if (!this.#cutOffs.delete(cutOff)) return;
        clearTimeout(timer);
        resolve(outcome);
      };
      // The whole try, not only socket idleness: a receiver that trickles bytes is cut off too.
      // A try still waiting for its connection ends at once; it is dropped before it is written.
      const cutOff = (reason: string): void => {
        cutReason ??= reason;
        if (controller) controller.abort(new Error(reason));
        else finish({ ok: false, status: null, error: reason });
      };
      const timer = setTimeout(() => cutOff('timeout'), hook.timeoutMs);
      this.#cutOffs.add(cutOff);
      this.#agent.dispatch(
        // undici's own timeouts are off: the try's timer above covers them, without a timer per request more.
        { origin, path, method: 'POST', headers, body: delivery.body, headersTimeout: 0, bodyTimeout: 0 },
        {
          onRequestStart(started) {
            controller = started;
            if (cutReason) started.abort(new Error(cutReason));
          },
          onResponseStart(_controller, statusCode) {
            status = statusCode;
          },
          // The body is not needed; reading it frees the connection for the next delivery.
          onResponseData() {},
          onResponseEnd() {
            if (status >= 200 && status < 300) finish({ ok: true, status });
            else finish({ ok: false, status, error: status >= 300 && status < 400 ? 'redirect refused' : `HTTP ${status}` });
          },
          // Also a request undici refuses before sending it (a header it will not write): a failed try.
          onResponseError(_controller, err: Error & { code?: string }) {
            finish({ ok: false, status: status || null, error: cutReason ?? err.code ?? err.name });
          },
        },
      );
    });
  }

  #settle(delivery: WebhookDeliveryRecord, update: Partial<Omit<WebhookDeliveryRecord, 'id'>>): Promise<void> {
    return this.deliveries.settle(delivery.id, this.#owner, update).then(
      (kept) => {
        if (!kept) log.warn('webhook.lease_lost', { webhook: delivery.webhookId, eventId: delivery.eventId });
      },
      (err: unknown) => {
        // The lease ends by itself; the delivery is then tried again (at least once, never lost).
        log.warn('webhook.settle_failed', { webhook: delivery.webhookId, eventId: delivery.eventId, ...describeError(err) });
      },
    );
  }
}
