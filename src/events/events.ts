import { AsyncResource } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { Store, UserRecord, WebhookDeliveryRecord } from '../storage/types.js';
import { userJson } from '../api/user-json.js';
import { describeError, log } from '../log.js';

/**
 * Events: what happened (a sign-in, a user change, a refused code …), in FusionAuth's webhook
 * shape and names, plus our own names for what FusionAuth has none for. Each event is written to
 * the store as one delivery per webhook that wants it, before the request that caused it
 * answers; a background sender (./sender.ts) posts them. Nothing is sent on the request path.
 * A change and its events are written in one step of the store ({@link Events.atomically}).
 */

/** FusionAuth's event types this server raises. */
export const FUSIONAUTH_EVENT_TYPES = [
  'user.create',
  'user.update',
  'user.delete',
  'user.deactivate',
  'user.reactivate',
  'user.login.success',
  'user.login.failed',
  'user.registration.create',
  'user.two-factor.method.add',
  'user.two-factor.method.remove',
  'jwt.refresh-token.revoke',
] as const;

/** Ours, for what FusionAuth has no name for. */
export const OUR_EVENT_TYPES = [
  'magic-link.sent',
  'magic-link.opened-elsewhere',
  'magic-link.cross-device.approved',
  'magic-link.cross-device.refused',
  'magic-link.code.voided',
  'rate-limit.hit',
] as const;

export type EventType = (typeof FUSIONAUTH_EVENT_TYPES)[number] | (typeof OUR_EVENT_TYPES)[number];
export const EVENT_TYPES: readonly EventType[] = [...FUSIONAUTH_EVENT_TYPES, ...OUR_EVENT_TYPES];

export interface EventInput {
  /** The user the event is about (its FusionAuth JSON goes in the event; never a secret). */
  user?: UserRecord | null;
  /** The user's id when the record is gone (a delete) or not at hand. */
  userId?: string | null;
  applicationId?: string | null;
  info?: { ipAddress?: string; userAgent?: string };
  /** More top-level fields of the event (a reason, a limit's name…): never a code, token or secret. */
  fields?: Record<string, unknown>;
}

type Webhook = Config['webhooks'][number];

/** What the events need of the store. */
export type EventStore = Pick<Store, 'webhookDeliveries' | 'counters' | 'atomically'>;

const SEQUENCE_KEY = 'webhook-event-sequence';

/** An event whose body is fixed, waiting for its sequence number and its write. */
interface PreparedEvent {
  id: string;
  type: EventType;
  orderKey: string;
  body: string;
  createdAt: number;
  retainUntil: number;
  targets: readonly Webhook[];
}

/**
 * What a change running in {@link Events.atomically} emits its events through: they are held
 * and written at the end of the step. Handed to the work rather than found in an
 * AsyncLocalStorage, which would cost every promise of every request once in use.
 */
export interface EventStep {
  emit(type: EventType, input?: EventInput): void;
}

/** A step whose events go nowhere: for changes made where no events are wanted. */
export const NO_EVENTS: EventStep = { emit: () => undefined };

/** `work` in one step of `events` ({@link Events.atomically}), or simply run where no events are wired. */
export function withEvents<T>(events: Events | undefined, work: (step: EventStep) => Promise<T>): Promise<T> {
  return events ? events.atomically(work) : work(NO_EVENTS);
}

export class Events {
  readonly #webhooks: readonly Webhook[];
  readonly #store: EventStore;
  readonly #settings: Config['events'];
  /**
   * Runs a task in the context this object was made in, outside any scope or transaction of a
   * request: for writes that must not join (or outlive) a change's transaction, such as an
   * observation written "soon" or the sender's wake-up.
   */
  readonly #detached: <T>(task: () => T) => T = AsyncResource.bind(<T>(task: () => T): T => task());
  /** Told after deliveries were written (the sender in this process looks at once). */
  onWritten: () => void = () => undefined;

  constructor(deps: { webhooks: readonly Webhook[]; store: EventStore; settings: Config['events'] }) {
    this.#webhooks = deps.webhooks;
    this.#store = deps.store;
    this.#settings = deps.settings;
  }

  /**
   * Runs `work`, a change that emits its events, as one step of the store
   * ({@link Store.atomically}): the events `work` emits are held back and written as the step's
   * last write, so on MongoDB with transactions the change and its events commit together or not
   * at all, and everywhere a `work` that throws leaves no event of a change it did not finish. The
   * step's transaction stays short, and the webhook sequence numbers are taken at its end (outside
   * it): a change that retouches a user it conflicts with commits after the earlier one, so its
   * events get greater numbers. `work` may run more than once (see Store.atomically): each run
   * gets a fresh step. Without any webhook there is no event to keep with the change and `work`
   * simply runs.
   */
  async atomically<T>(work: (step: EventStep) => Promise<T>): Promise<T> {
    if (this.#webhooks.length === 0) return work(NO_EVENTS);
    let written = 0;
    const result = await this.#store.atomically(async () => {
      const held: PreparedEvent[] = [];
      const value = await work({
        emit: (type, input = {}) => {
          const event = this.#prepare(type, input);
          if (event) held.push(event);
        },
      });
      written = await this.#write(held);
      return value;
    });
    if (written > 0) this.#wakeSender();
    return result;
  }

  /** The event with its body fixed; null when no webhook wants it. */
  #prepare(type: EventType, input: EventInput): PreparedEvent | null {
    const targets = this.#webhooks.filter((hook) => wants(hook, type));
    if (targets.length === 0) return null;
    const now = Date.now();
    const id = randomUUID();
    const userId = input.user?.id ?? input.userId ?? null;
    const body = JSON.stringify({
      event: {
        id,
        type,
        createInstant: now,
        ...(input.applicationId ? { applicationId: input.applicationId } : {}),
        ...(input.user ? { user: userJson(input.user) } : userId ? { userId } : {}),
        info: { ...(input.info ?? {}) },
        ...(input.fields ?? {}),
      },
    });
    return {
      id,
      type,
      orderKey: userId ? `user:${userId}` : `type:${type}`,
      body,
      createdAt: now,
      retainUntil: retentionEnd(this.#settings, now),
      targets,
    };
  }

  /**
   * Numbers the events (in the order given) and writes their deliveries in one insert; how many
   * deliveries. The numbers come from the store's counter, which no transaction holds (see
   * MongoCounters): a number taken by a step that then rolls back is skipped, which the sender's
   * ordering (by number within an order key) does not mind.
   */
  async #write(events: readonly PreparedEvent[]): Promise<number> {
    const records: WebhookDeliveryRecord[] = [];
    for (const event of events) {
      const sequence = await this.#store.counters.sequence(SEQUENCE_KEY, event.retainUntil);
      records.push(...deliveriesOf(event, sequence));
    }
    if (records.length > 0) await this.#store.webhookDeliveries.insertMany(records);
    return records.length;
  }

  #wakeSender(): void {
    this.#detached(() => this.onWritten());
  }

  /**
   * For events seen after the fact (in the audit log): written without holding up anyone, a
   * failure logged. Used for observations (a rate limit hit, a link opened elsewhere), not for
   * changes, whose events go through {@link atomically}'s step before the answer.
   */
  emitSoon(type: EventType, input: EventInput = {}): void {
    const event = this.#prepare(type, input);
    if (!event) return;
    // Not part of any change: written on its own even when seen inside one's step, and kept when that step rolls back.
    this.#detached(() => this.#write([event]))
      .then((written) => written > 0 && this.#wakeSender())
      .catch((err: unknown) => log.error('event.write_failed', { type, ...describeError(err) }));
  }

  /**
   * Events from the audit log's facts (see log.ts's tap), written just after the fact: our own
   * observations (links, approvals, limits), failed logins, and the revocation of a reused
   * refresh token's chain (found deep in the token grant). The fields taken are chosen so no
   * code, token or address passes.
   */
  observe(event: string, fields: Readonly<Record<string, unknown>>): void {
    switch (event) {
      case 'code.sent':
        return this.emitSoon('magic-link.sent', { userId: str(fields.user), applicationId: str(fields.client), fields: { signUp: fields.signUp === true } });
      case 'link.opened':
        if (fields.openedIn === 'same_browser') return;
        return this.emitSoon('magic-link.opened-elsewhere', { fields: { openedIn: str(fields.openedIn) } });
      case 'approval.granted':
        return this.emitSoon('magic-link.cross-device.approved', { applicationId: str(fields.client) });
      case 'approval.denied':
        return this.emitSoon('magic-link.cross-device.refused', { userId: str(fields.user), applicationId: str(fields.client) });
      case 'code.voided':
        return this.emitSoon('magic-link.code.voided', { applicationId: str(fields.client) });
      case 'login.failure':
        return this.emitSoon('user.login.failed', { userId: str(fields.user), applicationId: str(fields.client), fields: { reason: str(fields.reason) } });
      case 'refresh.reuse_detected':
        return this.emitSoon('jwt.refresh-token.revoke', { userId: str(fields.user), applicationId: str(fields.client), fields: { reason: 'reuse_detected' } });
      case 'ratelimit.hit':
        return this.emitSoon('rate-limit.hit', { fields: { limit: str(fields.rule), retryAfterSeconds: typeof fields.retryAfterSeconds === 'number' ? fields.retryAfterSeconds : null } });
      default:
        return;
    }
  }
}

/** Until when an event's deliveries are kept when they start at `from`: its tries (`maxAgeHours`), then `retainDays` for listing and replay. */
export function retentionEnd(settings: Pick<Config['events'], 'maxAgeHours' | 'retainDays'>, from: number): number {
  return from + settings.maxAgeHours * 3_600_000 + settings.retainDays * 86_400_000;
}

/** One pending delivery of `event` per webhook that wants it. */
function deliveriesOf(event: PreparedEvent, sequence: number): WebhookDeliveryRecord[] {
  return event.targets.map((hook) => ({
    id: `${event.id}:${hook.id}`,
    eventId: event.id,
    webhookId: hook.id,
    type: event.type,
    orderKey: event.orderKey,
    sequence,
    body: event.body,
    status: 'pending',
    attempts: 0,
    createdAt: event.createdAt,
    nextAttemptAt: event.createdAt,
    leaseOwner: null,
    leaseUntil: 0,
    lastStatus: null,
    lastError: null,
    settledAt: null,
    retainUntil: event.retainUntil,
  }));
}

function wants(hook: Webhook, type: string): boolean {
  return hook.events.includes('*') || hook.events.includes(type);
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}
