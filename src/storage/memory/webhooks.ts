import type { WebhookDeliveryRecord, WebhookDeliveryRepository } from '../types.js';
import { SweepClock } from './shared.js';

/** How often settled deliveries past their retention are swept out. */
const SWEEP_EVERY_MS = 60_000;

/**
 * How many settled (delivered or failed) deliveries this store keeps at most, the oldest settled
 * going first: each holds its event's body in the heap for `retainDays`, so a busy server would
 * grow by megabytes an hour; MongoDB keeps them all.
 */
export const MEMORY_SETTLED_DELIVERIES = 10_000;

/**
 * Webhook deliveries in this process (lost on restart, as everything in the memory store).
 * Pending ones are kept apart from settled ones, so a lease looks only at what may be sent,
 * however many delivered ones are kept for listing; and they are kept in sequence order as they
 * come, so a lease reads them from the oldest without sorting. When a receiver is slow the
 * backlog grows, and sorting it on every lease (one per delivery) made each delivery cost more
 * the longer the backlog. A delivery is flat (strings, numbers, null): a spread copies it whole.
 */
export class MemoryWebhookDeliveries implements WebhookDeliveryRepository {
  readonly #pending = new Map<string, WebhookDeliveryRecord>();
  /** The pending deliveries by sequence (then id): what a lease walks. */
  readonly #queue: WebhookDeliveryRecord[] = [];
  readonly #settled = new Map<string, WebhookDeliveryRecord>();
  readonly #sweeps = new SweepClock(SWEEP_EVERY_MS);

  /** `keepSettled`: at most this many settled deliveries are kept (tests lower it). */
  constructor(private readonly keepSettled = MEMORY_SETTLED_DELIVERIES) {}

  async insertMany(records: readonly WebhookDeliveryRecord[]): Promise<void> {
    for (const record of records) this.#place({ ...record });
  }

  async lease(now: number, owner: string, leaseMs: number, limit: number, skip: readonly string[] = []): Promise<WebhookDeliveryRecord[]> {
    this.#sweep(now);
    const headOfKey = new Set<string>();
    const leased: WebhookDeliveryRecord[] = [];
    for (const record of this.#queue) {
      const key = `${record.webhookId}\n${record.orderKey}`;
      // Only the oldest pending delivery of a key may go; the rest wait behind it, due or not.
      if (headOfKey.has(key)) continue;
      headOfKey.add(key);
      if (leased.length >= limit) break;
      if (record.nextAttemptAt > now || record.leaseUntil > now || skip.includes(record.webhookId)) continue;
      record.leaseOwner = owner;
      record.leaseUntil = now + leaseMs;
      leased.push({ ...record });
    }
    return leased;
  }

  async settle(id: string, owner: string, update: Partial<Omit<WebhookDeliveryRecord, 'id'>>): Promise<boolean> {
    const record = this.#pending.get(id) ?? this.#settled.get(id);
    if (!record || record.leaseOwner !== owner) return false;
    Object.assign(record, update);
    this.#place(record);
    return true;
  }

  async list(filter: { status?: WebhookDeliveryRecord['status']; limit: number }): Promise<WebhookDeliveryRecord[]> {
    const pool = filter.status === 'pending' ? [...this.#pending.values()] : [...this.#pending.values(), ...this.#settled.values()];
    return pool
      .filter((r) => !filter.status || r.status === filter.status)
      .sort((a, b) => b.sequence - a.sequence)
      .slice(0, filter.limit)
      .map((record) => ({ ...record }));
  }

  async requeueEvent(eventId: string, now: number): Promise<number> {
    let count = 0;
    for (const record of [...this.#pending.values(), ...this.#settled.values()]) {
      if (record.eventId !== eventId) continue;
      Object.assign(record, { status: 'pending', attempts: 0, nextAttemptAt: now, leaseOwner: null, leaseUntil: 0, settledAt: null });
      this.#place(record);
      count += 1;
    }
    return count;
  }

  /** Files a record under its status (a record's sequence never changes once written). */
  #place(record: WebhookDeliveryRecord): void {
    const wasPending = this.#pending.get(record.id);
    if (record.status === 'pending') {
      this.#settled.delete(record.id);
      if (wasPending && wasPending !== record) this.#dequeue(wasPending);
      if (wasPending !== record) this.#enqueue(record);
      this.#pending.set(record.id, record);
    } else {
      if (wasPending) this.#dequeue(wasPending);
      this.#pending.delete(record.id);
      // Deleted first, so a record settled again goes to the end: the Map's order is the order of settling.
      this.#settled.delete(record.id);
      this.#settled.set(record.id, record);
      if (this.#settled.size > this.keepSettled) this.#settled.delete(this.#settled.keys().next().value!);
    }
  }

  /** Where a record of this sequence and id goes in the queue (after every one that sorts before it). */
  #position(record: WebhookDeliveryRecord): number {
    let low = 0;
    let high = this.#queue.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const other = this.#queue[middle]!;
      if (other.sequence < record.sequence || (other.sequence === record.sequence && other.id < record.id)) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  #enqueue(record: WebhookDeliveryRecord): void {
    const last = this.#queue[this.#queue.length - 1];
    // Nearly always the newest: appended.
    if (!last || last.sequence < record.sequence || (last.sequence === record.sequence && last.id < record.id)) this.#queue.push(record);
    else this.#queue.splice(this.#position(record), 0, record);
  }

  #dequeue(record: WebhookDeliveryRecord): void {
    const at = this.#position(record);
    if (this.#queue[at] === record) this.#queue.splice(at, 1);
  }

  #sweep(now: number): void {
    if (!this.#sweeps.due(now)) return;
    for (const [id, record] of this.#settled) if (record.retainUntil <= now) this.#settled.delete(id);
  }
}
