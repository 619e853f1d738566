import type { WebhookDeliveryRecord, WebhookDeliveryRepository } from '../types.js';
import { copy } from './shared.js';

/** Webhook deliveries in this process (lost on restart, as everything in the memory store). */
export class MemoryWebhookDeliveries implements WebhookDeliveryRepository {
  readonly #byId = new Map<string, WebhookDeliveryRecord>();

  async insertMany(records: readonly WebhookDeliveryRecord[]): Promise<void> {
    for (const record of records) this.#byId.set(record.id, copy(record));
  }

  async lease(now: number, owner: string, leaseMs: number, limit: number, skip: readonly string[] = []): Promise<WebhookDeliveryRecord[]> {
    this.#sweep(now);
    const pending = [...this.#byId.values()].filter((r) => r.status === 'pending').sort((a, b) => a.sequence - b.sequence);
    const headOfKey = new Set<string>();
    const leased: WebhookDeliveryRecord[] = [];
    for (const record of pending) {
      const key = `${record.webhookId}\n${record.orderKey}`;
      // Only the oldest pending delivery of a key may go; the rest wait behind it, due or not.
      if (headOfKey.has(key)) continue;
      headOfKey.add(key);
      if (leased.length >= limit || record.nextAttemptAt > now || record.leaseUntil > now || skip.includes(record.webhookId)) continue;
      record.leaseOwner = owner;
      record.leaseUntil = now + leaseMs;
      leased.push(copy(record));
    }
    return leased;
  }

  async settle(id: string, owner: string, update: Partial<Omit<WebhookDeliveryRecord, 'id'>>): Promise<boolean> {
    const record = this.#byId.get(id);
    if (!record || record.leaseOwner !== owner) return false;
    Object.assign(record, copy(update));
    return true;
  }

  async list(filter: { status?: WebhookDeliveryRecord['status']; limit: number }): Promise<WebhookDeliveryRecord[]> {
    return [...this.#byId.values()]
      .filter((r) => !filter.status || r.status === filter.status)
      .sort((a, b) => b.sequence - a.sequence)
      .slice(0, filter.limit)
      .map(copy);
  }

  async requeueEvent(eventId: string, now: number): Promise<number> {
    let count = 0;
    for (const record of this.#byId.values()) {
      if (record.eventId !== eventId) continue;
      Object.assign(record, { status: 'pending', attempts: 0, nextAttemptAt: now, leaseOwner: null, leaseUntil: 0, settledAt: null });
      count += 1;
    }
    return count;
  }

  #sweep(now: number): void {
    for (const [id, record] of this.#byId) if (record.status !== 'pending' && record.retainUntil <= now) this.#byId.delete(id);
  }
}
