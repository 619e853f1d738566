import type { WebhookDeliveryRecord, WebhookDeliveryRepository } from '../types.js';
import { copy, SweepClock } from './shared.js';

/** How often settled deliveries past their retention are swept out. */
const SWEEP_EVERY_MS = 60_000;

/**
 * Webhook deliveries in this process (lost on restart, as everything in the memory store).
 * Pending ones are kept apart from settled ones, so a lease looks only at what may be sent,
 * however many delivered ones are kept for listing.
 */
export class MemoryWebhookDeliveries implements WebhookDeliveryRepository {
  readonly #pending = new Map<string, WebhookDeliveryRecord>();
  readonly #settled = new Map<string, WebhookDeliveryRecord>();
  readonly #sweeps = new SweepClock(SWEEP_EVERY_MS);

  async insertMany(records: readonly WebhookDeliveryRecord[]): Promise<void> {
    for (const record of records) this.#place(copy(record));
  }

  async lease(now: number, owner: string, leaseMs: number, limit: number, skip: readonly string[] = []): Promise<WebhookDeliveryRecord[]> {
    this.#sweep(now);
    const pending = [...this.#pending.values()].sort((a, b) => a.sequence - b.sequence);
    const headOfKey = new Set<string>();
    const leased: WebhookDeliveryRecord[] = [];
    for (const record of pending) {
      const key = `${record.webhookId}\n${record.orderKey}`;
      // Only the oldest pending delivery of a key may go; the rest wait behind it, due or not.
      if (headOfKey.has(key)) continue;
      headOfKey.add(key);
      if (leased.length >= limit) break;
      if (record.nextAttemptAt > now || record.leaseUntil > now || skip.includes(record.webhookId)) continue;
      record.leaseOwner = owner;
      record.leaseUntil = now + leaseMs;
      leased.push(copy(record));
    }
    return leased;
  }

  async settle(id: string, owner: string, update: Partial<Omit<WebhookDeliveryRecord, 'id'>>): Promise<boolean> {
    const record = this.#pending.get(id) ?? this.#settled.get(id);
    if (!record || record.leaseOwner !== owner) return false;
    Object.assign(record, copy(update));
    this.#place(record);
    return true;
  }

  async list(filter: { status?: WebhookDeliveryRecord['status']; limit: number }): Promise<WebhookDeliveryRecord[]> {
    const pool = filter.status === 'pending' ? [...this.#pending.values()] : [...this.#pending.values(), ...this.#settled.values()];
    return pool
      .filter((r) => !filter.status || r.status === filter.status)
      .sort((a, b) => b.sequence - a.sequence)
      .slice(0, filter.limit)
      .map(copy);
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

  /** Files a record under its status. */
  #place(record: WebhookDeliveryRecord): void {
    const [into, from] = record.status === 'pending' ? [this.#pending, this.#settled] : [this.#settled, this.#pending];
    from.delete(record.id);
    into.set(record.id, record);
  }

  #sweep(now: number): void {
    if (!this.#sweeps.due(now)) return;
    for (const [id, record] of this.#settled) if (record.retainUntil <= now) this.#settled.delete(id);
  }
}
