import type { WebhookDeliveryRecord, WebhookDeliveryRepository } from '../types.js';
import { SweepClock } from './shared.js';
import { MinHeap } from './heap.js';

/** How often settled deliveries past their retention are swept out. */
const SWEEP_EVERY_MS = 60_000;

/**
 * How many settled (delivered or failed) deliveries this store keeps at most, the oldest settled
 * going first: each holds its event's body in the heap for `retainDays`, so a busy server would
 * grow by megabytes an hour; MongoDB keeps them all.
 */
export const MEMORY_SETTLED_DELIVERIES = 10_000;

/**
 * Whether a list that drops its dead entries lazily (the waiting heap, the settled order) should be
 * rebuilt now: when it holds more than twice its live entries, and some slack, so rebuilding (linear
 * in its size) happens once per that many dead entries and costs each little.
 */
function mostlyStale(held: number, live: number): boolean {
  return held > 2 * live + 1024;
}

/** A head of a key's queue, waiting to be due (`readyAt`: its next try, or the end of its lease). */
interface Scheduled {
  record: WebhookDeliveryRecord;
  readyAt: number;
}

/** A settled delivery kept for listing; a record settled again (a replay) gets a new one. */
interface Settled {
  record: WebhookDeliveryRecord;
}

const byReadyAt = (a: Scheduled, b: Scheduled): boolean => a.readyAt < b.readyAt || (a.readyAt === b.readyAt && bySequence(a, b));
const bySequence = (a: Scheduled, b: Scheduled): boolean => sortsBefore(a.record, b.record);

/** The order deliveries of one key go in, and leases prefer: by sequence, then id. */
function sortsBefore(a: WebhookDeliveryRecord, b: WebhookDeliveryRecord): boolean {
  return a.sequence < b.sequence || (a.sequence === b.sequence && a.id < b.id);
}

const keyOf = (record: WebhookDeliveryRecord): string => `${record.webhookId}\n${record.orderKey}`;

/**
 * Webhook deliveries in this process (lost on restart, as everything in the memory store).
 *
 * A lease costs what it takes, not what is pending. Pending deliveries are queued per key
 * (webhook and order key) in sequence order, and only each queue's head may go. Heads wait in a
 * heap by the time they are due (their next try, or the end of their lease); a lease moves the
 * heads now due into a heap per webhook by sequence, and takes the oldest of the webhooks not at
 * their cap. An entry made stale by a later change (leased, settled, no longer the head) is
 * dropped when it comes up. Before, a lease walked every pending delivery: with a receiver down,
 * its backlog made each new event's lease cost milliseconds (60 ms at 200,000 pending), and each
 * sign-in leases twice. A delivery is flat (strings, numbers, null): a spread copies it whole.
 */
export class MemoryWebhookDeliveries implements WebhookDeliveryRepository {
  readonly #pending = new Map<string, WebhookDeliveryRecord>();
  /** Each key's pending deliveries in sequence order; the first is the head. */
  readonly #queues = new Map<string, WebhookDeliveryRecord[]>();
  readonly #waiting = new MinHeap<Scheduled>(byReadyAt);
  /** Heads due now, per webhook, oldest sequence first. */
  readonly #due = new Map<string, MinHeap<Scheduled>>();
  /** Each pending record's latest schedule entry: any other entry of it is stale and dropped. */
  readonly #scheduled = new Map<string, Scheduled>();
  readonly #settled = new Map<string, Settled>();
  /**
   * Settled entries in the order they were settled; one no longer in `#settled` (swept, or its
   * record settled again) is skipped. The cap goes by this list: dropping the first key of a Map
   * that loses keys at the front walks every deleted slot before it (5 µs a settle at 10,000
   * kept). No WeakMap either: with thousands of keys they weigh on every garbage collection.
   */
  #settledOrder: Settled[] = [];
  #settledFirst = 0;
  readonly #sweeps = new SweepClock(SWEEP_EVERY_MS);

  /** `keepSettled`: at most this many settled deliveries are kept (tests lower it). */
  constructor(private readonly keepSettled = MEMORY_SETTLED_DELIVERIES) {}

  async insertMany(records: readonly WebhookDeliveryRecord[]): Promise<void> {
    for (const record of records) this.#place({ ...record });
  }

  async lease(now: number, owner: string, leaseMs: number, limit: number, skip: readonly string[] = []): Promise<WebhookDeliveryRecord[]> {
    this.#sweep(now);
    this.#moveDue(now);
    const leased: WebhookDeliveryRecord[] = [];
    while (leased.length < limit) {
      const heap = this.#oldestDue(now, skip);
      if (!heap) break;
      const { record } = heap.pop()!;
      record.leaseOwner = owner;
      record.leaseUntil = now + leaseMs;
      // Still its key's head, due again when the lease ends (if nobody settles it).
      this.#schedule(record);
      leased.push({ ...record });
    }
    return leased;
  }

  async settle(id: string, owner: string, update: Partial<Omit<WebhookDeliveryRecord, 'id'>>): Promise<boolean> {
    const record = this.#pending.get(id) ?? this.#settled.get(id)?.record;
    if (!record || record.leaseOwner !== owner) return false;
    Object.assign(record, update);
    this.#place(record);
    return true;
  }

  async list(filter: { status?: WebhookDeliveryRecord['status']; limit: number }): Promise<WebhookDeliveryRecord[]> {
    const pool = filter.status === 'pending' ? [...this.#pending.values()] : [...this.#pending.values(), ...this.#settledRecords()];
    return pool
      .filter((r) => !filter.status || r.status === filter.status)
      .sort((a, b) => b.sequence - a.sequence)
      .slice(0, filter.limit)
      .map((record) => ({ ...record }));
  }

  async requeueEvent(eventId: string, now: number, retainUntil: number): Promise<number> {
    let count = 0;
    for (const record of [...this.#pending.values(), ...this.#settledRecords()]) {
      if (record.eventId !== eventId) continue;
      Object.assign(record, { status: 'pending', attempts: 0, nextAttemptAt: now, leaseOwner: null, leaseUntil: 0, settledAt: null, retainUntil });
      this.#place(record);
      count += 1;
    }
    return count;
  }

  /** Files a record under its status, and schedules its key's head when that changed. */
  #place(record: WebhookDeliveryRecord): void {
    const wasPending = this.#pending.get(record.id);
    if (wasPending && wasPending !== record) this.#unqueue(wasPending);
    if (record.status === 'pending') {
      this.#settled.delete(record.id);
      this.#pending.set(record.id, record);
      if (wasPending !== record) this.#enqueue(record);
      else if (this.#isHead(record)) this.#schedule(record);
      return;
    }
    if (wasPending === record) this.#unqueue(record);
    this.#pending.delete(record.id);
    this.#scheduled.delete(record.id);
    this.#keepSettled(record);
  }

  /** Entries in the waiting heap, stale ones included (tests: what a settled delivery leaves behind). */
  get waitingEntries(): number {
    return this.#waiting.size;
  }

  /** Files a settled record, and drops the earliest settled of those kept when over the cap. */
  #keepSettled(record: WebhookDeliveryRecord): void {
    const entry: Settled = { record };
    this.#settled.set(record.id, entry);
    this.#settledOrder.push(entry);
    while (this.#settled.size > this.keepSettled) {
      const oldest = this.#settledOrder[this.#settledFirst++]!;
      if (this.#isLatestSettle(oldest)) this.#settled.delete(oldest.record.id);
    }
    // Now and then, not at every settle: the list loses its dropped front, and the entries of
    // records swept out or settled again (so it never outgrows what is kept by much).
    if (mostlyStale(this.#settledOrder.length, this.#settled.size)) {
      this.#settledOrder = this.#settledOrder.slice(this.#settledFirst).filter((entry) => this.#isLatestSettle(entry));
      this.#settledFirst = 0;
    }
  }

  #isLatestSettle(entry: Settled): boolean {
    return this.#settled.get(entry.record.id) === entry;
  }

  #settledRecords(): WebhookDeliveryRecord[] {
    return Array.from(this.#settled.values(), (entry) => entry.record);
  }

  #enqueue(record: WebhookDeliveryRecord): void {
    const key = keyOf(record);
    const queue = this.#queues.get(key);
    if (!queue) {
      this.#queues.set(key, [record]);
      this.#schedule(record);
      return;
    }
    // Nearly always the newest of its key: appended.
    const at = sortsBefore(queue[queue.length - 1]!, record) ? queue.length : this.#position(queue, record);
    queue.splice(at, 0, record);
    // Sorting before the head (a number taken earlier, written later), it goes first.
    if (at === 0) this.#schedule(record);
  }

  /** Takes a record out of its key's queue; the next one, if it becomes the head, is scheduled. */
  #unqueue(record: WebhookDeliveryRecord): void {
    const key = keyOf(record);
    const queue = this.#queues.get(key);
    if (!queue) return;
    const at = this.#position(queue, record);
    if (queue[at] !== record) return;
    queue.splice(at, 1);
    if (queue.length === 0) this.#queues.delete(key);
    else if (at === 0) this.#schedule(queue[0]!);
  }

  /** Where a record goes in a key's queue (after every one that sorts before it). */
  #position(queue: readonly WebhookDeliveryRecord[], record: WebhookDeliveryRecord): number {
    let low = 0;
    let high = queue.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (sortsBefore(queue[middle]!, record)) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  #isHead(record: WebhookDeliveryRecord): boolean {
    return this.#queues.get(keyOf(record))?.[0] === record;
  }

  /**
   * A head waits until its next try or the end of its lease; any older entry of it goes stale.
   * Stale entries are dropped when they come up, or here once they are most of the heap: a settled
   * delivery's lease entry would otherwise hold its record and body until the lease would have
   * ended (`leaseSeconds`, 120 by default), 36,000 of them at 300 deliveries a second.
   */
  #schedule(record: WebhookDeliveryRecord): void {
    const entry: Scheduled = { record, readyAt: Math.max(record.nextAttemptAt, record.leaseUntil) };
    this.#scheduled.set(record.id, entry);
    this.#waiting.push(entry);
    if (mostlyStale(this.#waiting.size, this.#scheduled.size)) this.#waiting.keep((kept) => this.#current(kept));
  }

  #current(entry: Scheduled): boolean {
    const { record } = entry;
    return this.#scheduled.get(record.id) === entry && this.#pending.get(record.id) === record && this.#isHead(record);
  }

  /** Moves the heads due at `now` to their webhook's heap of due heads. */
  #moveDue(now: number): void {
    for (let top = this.#waiting.peek(); top && top.readyAt <= now; top = this.#waiting.peek()) {
      this.#waiting.pop();
      if (!this.#current(top)) continue;
      let heap = this.#due.get(top.record.webhookId);
      if (!heap) this.#due.set(top.record.webhookId, (heap = new MinHeap<Scheduled>(bySequence)));
      heap.push(top);
    }
  }

  /**
   * The heap whose top is the oldest due head of a webhook not skipped. Stale tops are dropped on
   * the way, and one not due at `now` after all (a clock that went back) goes back to wait.
   */
  #oldestDue(now: number, skip: readonly string[]): MinHeap<Scheduled> | null {
    let best: MinHeap<Scheduled> | null = null;
    for (const [webhookId, heap] of this.#due) {
      if (skip.includes(webhookId)) continue;
      for (let top = heap.peek(); top && (!this.#current(top) || top.readyAt > now); top = heap.peek()) {
        heap.pop();
        if (this.#current(top)) this.#waiting.push(top);
      }
      if (heap.size === 0) {
        this.#due.delete(webhookId);
        continue;
      }
      if (!best || bySequence(heap.peek()!, best.peek()!)) best = heap;
    }
    return best;
  }

  #sweep(now: number): void {
    if (!this.#sweeps.due(now)) return;
    for (const [id, { record }] of this.#settled) if (record.retainUntil <= now) this.#settled.delete(id);
  }
}
