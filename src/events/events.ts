import { randomUUID } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { CounterRepository, UserRecord, WebhookDeliveryRecord, WebhookDeliveryRepository } from '../storage/types.js';
import { userJson } from '../api/user-json.js';
import { describeError, log } from '../log.js';

/**
 * Events: what happened (a sign-in, a user change, a refused code …), in FusionAuth's webhook
 * shape and names, plus our own names for what FusionAuth has none for. Each event is written to
 * the store as one delivery per webhook that wants it, before the request that caused it
 * answers; a background sender (./sender.ts) posts them. Nothing is sent on the request path.
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

const SEQUENCE_KEY = 'webhook-event-sequence';

export class Events {
  readonly #webhooks: readonly Webhook[];
  readonly #deliveries: WebhookDeliveryRepository;
  readonly #counters: CounterRepository;
  readonly #settings: Config['events'];
  /** Told after deliveries were written (the sender in this process looks at once). */
  onWritten: () => void = () => undefined;

  constructor(deps: { webhooks: readonly Webhook[]; deliveries: WebhookDeliveryRepository; counters: CounterRepository; settings: Config['events'] }) {
    this.#webhooks = deps.webhooks;
    this.#deliveries = deps.deliveries;
    this.#counters = deps.counters;
    this.#settings = deps.settings;
  }

  /** Whether any webhook wants events of `type`. */
  wanted(type: EventType): boolean {
    return this.#webhooks.some((hook) => wants(hook, type));
  }

  /**
   * Writes the event for every webhook that wants it and resolves once it is stored; a store
   * failure rejects (the caller's request fails as the change's own write would have).
   */
  async emit(type: EventType, input: EventInput = {}): Promise<void> {
    const targets = this.#webhooks.filter((hook) => wants(hook, type));
    if (targets.length === 0) return;
    const now = Date.now();
    const retainUntil = now + this.#settings.maxAgeHours * 3_600_000 + this.#settings.retainDays * 86_400_000;
    const sequence = await this.#counters.sequence(SEQUENCE_KEY, retainUntil);
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
    const records: WebhookDeliveryRecord[] = targets.map((hook) => ({
      id: `${id}:${hook.id}`,
      eventId: id,
      webhookId: hook.id,
      type,
      orderKey: userId ? `user:${userId}` : `type:${type}`,
      sequence,
      body,
      status: 'pending',
      attempts: 0,
      createdAt: now,
      nextAttemptAt: now,
      leaseOwner: null,
      leaseUntil: 0,
      lastStatus: null,
      lastError: null,
      settledAt: null,
      retainUntil,
    }));
    await this.#deliveries.insertMany(records);
    this.onWritten();
  }

  /**
   * For events seen after the fact (in the audit log): written without holding up anyone, a
   * failure logged. Used for observations (a rate limit hit, a link opened elsewhere), not for
   * changes, whose events are written with `emit` before the answer.
   */
  emitSoon(type: EventType, input: EventInput = {}): void {
    if (!this.wanted(type)) return;
    this.emit(type, input).catch((err: unknown) => log.error('event.write_failed', { type, ...describeError(err) }));
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

function wants(hook: Webhook, type: string): boolean {
  return hook.events.includes('*') || hook.events.includes(type);
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}
