import type { Adapter } from 'oidc-provider';
import {
  DuplicateKeyError,
  type ApiKeyRecord,
  type ApiKeyRepository,
  type CodeExpectation,
  type CodeRepository,
  type CounterRepository,
  type PasswordlessCodeRecord,
  type RefreshTokenRecord,
  type RefreshTokenRepository,
  type Store,
  type UserRecord,
  type UserRepository,
  type UserRevision,
} from './types.js';
import { codeIsOlder, codeMeetsExpectation } from './expectations.js';
import { MemoryTwoFactor, MemoryTwoFactorLogins, MemoryTwoFactorTrusts } from './memory/two-factor.js';
import { MemoryOidcAdapter, MemoryOidcTable } from './memory/oidc.js';
import { copy, deleteUserRecords, dropExpired, SweepClock, type Expiring } from './memory/shared.js';
import { MemoryWebhookDeliveries } from './memory/webhooks.js';

/**
 * The embedded store: everything in this process's memory, lost on restart. Values are
 * copied in and out so callers cannot share mutable state, as with a real database.
 */


class MemoryUsers implements UserRepository {
  readonly #byId = new Map<string, UserRecord>();
  readonly #idByEmail = new Map<string, string>();
  readonly #idByUsername = new Map<string, string>();
  /** Each user's revision: a count of its writes, unique for the life of this store. */
  readonly #revisions = new Map<string, string>();
  #writes = 0;

  #renewRevision(id: string): void {
    this.#writes += 1;
    this.#revisions.set(id, String(this.#writes));
  }

  async insert(user: UserRecord): Promise<void> {
    if (this.#byId.has(user.id)) throw new DuplicateKeyError('id');
    if (this.#idByEmail.has(user.emailNormalized)) throw new DuplicateKeyError('email');
    if (user.usernameNormalized !== undefined && this.#idByUsername.has(user.usernameNormalized)) throw new DuplicateKeyError('username');
    this.#byId.set(user.id, copy(user));
    this.#idByEmail.set(user.emailNormalized, user.id);
    if (user.usernameNormalized !== undefined) this.#idByUsername.set(user.usernameNormalized, user.id);
    this.#renewRevision(user.id);
  }

  async findWithRevision(id: string): Promise<{ user: UserRecord; revision: UserRevision } | null> {
    const user = this.#byId.get(id);
    return user ? { user: copy(user), revision: this.#revisions.get(id) ?? null } : null;
  }

  async findById(id: string): Promise<UserRecord | null> {
    const user = this.#byId.get(id);
    return user ? copy(user) : null;
  }

  async findByEmail(emailNormalized: string): Promise<UserRecord | null> {
    const id = this.#idByEmail.get(emailNormalized);
    return id === undefined ? null : this.findById(id);
  }

  async findByUsername(usernameNormalized: string): Promise<UserRecord | null> {
    const id = this.#idByUsername.get(usernameNormalized);
    return id === undefined ? null : this.findById(id);
  }

  async list({ limit, offset }: { limit: number; offset: number }): Promise<UserRecord[]> {
    return [...this.#byId.values()]
      .sort((a, b) => a.insertInstant - b.insertInstant || a.id.localeCompare(b.id))
      .slice(offset, offset + limit)
      .map(copy);
  }

  async replaceIfUnchanged(user: UserRecord, revision: UserRevision): Promise<boolean> {
    const current = this.#byId.get(user.id);
    if (!current || (this.#revisions.get(user.id) ?? null) !== revision) return false;
    const holder = this.#idByEmail.get(user.emailNormalized);
    if (holder !== undefined && holder !== user.id) throw new DuplicateKeyError('email');
    const usernameHolder = user.usernameNormalized === undefined ? undefined : this.#idByUsername.get(user.usernameNormalized);
    if (usernameHolder !== undefined && usernameHolder !== user.id) throw new DuplicateKeyError('username');
    this.#idByEmail.delete(current.emailNormalized);
    this.#idByEmail.set(user.emailNormalized, user.id);
    if (current.usernameNormalized !== undefined) this.#idByUsername.delete(current.usernameNormalized);
    if (user.usernameNormalized !== undefined) this.#idByUsername.set(user.usernameNormalized, user.id);
    this.#byId.set(user.id, copy(user));
    this.#renewRevision(user.id);
    return true;
  }

  async recordLogin(id: string, clientId: string | null, now: number): Promise<UserRecord | null> {
    const user = this.#byId.get(id);
    if (!user) return null;
    user.lastLoginInstant = now;
    const registration = clientId === null ? undefined : user.registrations.find((r) => r.applicationId === clientId);
    if (registration) registration.lastLoginInstant = now;
    this.#renewRevision(id);
    return copy(user);
  }

  async delete(id: string): Promise<boolean> {
    const current = this.#byId.get(id);
    if (!current) return false;
    this.#byId.delete(id);
    this.#idByEmail.delete(current.emailNormalized);
    if (current.usernameNormalized !== undefined) this.#idByUsername.delete(current.usernameNormalized);
    this.#revisions.delete(id);
    return true;
  }
}

/** Adds `id` to the set kept under `key` (a secondary index). */
function addTo(index: Map<string, Set<string>>, key: string | null, id: string): void {
  if (key === null) return;
  const ids = index.get(key);
  if (ids) ids.add(id);
  else index.set(key, new Set([id]));
}

function removeFrom(index: Map<string, Set<string>>, key: string | null, id: string): void {
  if (key === null) return;
  const ids = index.get(key);
  ids?.delete(id);
  if (ids?.size === 0) index.delete(key);
}

export class MemoryCodes implements CodeRepository {
  readonly #byId = new Map<string, PasswordlessCodeRecord>();
  // Secondary indexes, as the MongoDB store has: without them, issuing a code scanned every
  // retained code (an hour's worth) several times, so cost grew with traffic. Only the active
  // codes of an owner are indexed: superseding is all that asks, and an owner who was sent many
  // codes would otherwise make each new one scan the whole hour's worth.
  readonly #activeByOwner = new Map<string, Set<string>>();
  readonly #byInteraction = new Map<string, Set<string>>();
  readonly #sweeps = new SweepClock();

  #live(id: string, now: number): PasswordlessCodeRecord | undefined {
    const record = this.#byId.get(id);
    if (record && record.retainUntil <= now) {
      this.#remove(record);
      return undefined;
    }
    return record;
  }

  #remove(record: PasswordlessCodeRecord): void {
    this.#byId.delete(record.id);
    removeFrom(this.#activeByOwner, record.owner, record.id);
    removeFrom(this.#byInteraction, record.interactionUid, record.id);
  }

  async insert(record: PasswordlessCodeRecord): Promise<void> {
    if (this.#byId.has(record.id)) throw new DuplicateKeyError('code');
    this.#sweep(record.createdAt);
    this.#byId.set(record.id, copy(record));
    if (record.status === 'active') addTo(this.#activeByOwner, record.owner, record.id);
    addTo(this.#byInteraction, record.interactionUid, record.id);
  }

  // One synchronous step, so no other call can come between finding the newest and superseding.
  async supersedeAllButNewest(owner: string): Promise<number> {
    const active = [...(this.#activeByOwner.get(owner) ?? [])].flatMap((id) => this.#byId.get(id) ?? []).filter((record) => record.status === 'active');
    const newest = active.reduce<PasswordlessCodeRecord | undefined>((kept, record) => (kept && codeIsOlder(record, kept) ? kept : record), undefined);
    const older = active.filter((record) => record !== newest);
    for (const record of older) {
      record.status = 'superseded';
      removeFrom(this.#activeByOwner, owner, record.id);
    }
    return older.length;
  }

  async findById(id: string, now: number): Promise<PasswordlessCodeRecord | null> {
    const record = this.#live(id, now);
    return record ? copy(record) : null;
  }

  async findLatestForInteraction(interactionUid: string, now: number): Promise<PasswordlessCodeRecord | null> {
    let latest: PasswordlessCodeRecord | undefined;
    for (const id of this.#byInteraction.get(interactionUid) ?? []) {
      const record = this.#byId.get(id);
      if (!record || record.retainUntil <= now) continue;
      if (!latest || record.createdAt >= latest.createdAt) latest = record;
    }
    return latest ? copy(latest) : null;
  }

  async compareAndSet(
    id: string,
    expect: CodeExpectation,
    set: Partial<Omit<PasswordlessCodeRecord, 'id'>>,
  ): Promise<PasswordlessCodeRecord | null> {
    const record = this.#byId.get(id);
    if (!record || !codeMeetsExpectation(record, expect)) return null;
    removeFrom(this.#activeByOwner, record.owner, id);
    removeFrom(this.#byInteraction, record.interactionUid, id);
    Object.assign(record, copy(set));
    if (record.status === 'active') addTo(this.#activeByOwner, record.owner, id);
    addTo(this.#byInteraction, record.interactionUid, id);
    return copy(record);
  }

  async reserveAttempt(id: string, maxAttempts: number, now: number): Promise<PasswordlessCodeRecord | null> {
    const record = this.#byId.get(id);
    if (!record || !codeMeetsExpectation(record, { status: 'active', unexpiredAt: now, attemptsBelow: maxAttempts })) return null;
    record.attempts += 1;
    return copy(record);
  }

  // A full scan: only deleting a user asks, and the index of a user's codes holds the active ones only.
  async deleteByUser(userId: string): Promise<number> {
    const records = [...this.#byId.values()].filter((record) => record.userId === userId);
    for (const record of records) this.#remove(record);
    return records.length;
  }

  /**
   * Drops records past their retention, so sign-in traffic cannot grow memory without bound.
   * At most once a second: a full scan on every insert made issuing O(retained codes).
   */
  #sweep(now: number): void {
    if (!this.#sweeps.due(now)) return;
    for (const record of this.#byId.values()) if (record.retainUntil <= now) this.#remove(record);
  }
}

export class MemoryCounters implements CounterRepository {
  readonly #counters = new Map<string, Expiring<number>>();
  readonly #sequences = new Map<string, Expiring<number>>();
  readonly #counterSweeps = new SweepClock();
  readonly #sequenceSweeps = new SweepClock();

  async increment(key: string, expiresAt: number): Promise<number> {
    const now = Date.now();
    const current = this.#counters.get(key);
    const next = current && current.expiresAt > now ? current.value + 1 : 1;
    if (!current) this.#sweep(now);
    this.#counters.set(key, { value: next, expiresAt: current && current.expiresAt > now ? current.expiresAt : expiresAt });
    return next;
  }

  async sequence(key: string, keepUntil: number): Promise<number> {
    const current = this.#sequences.get(key);
    const next = (current?.value ?? 0) + 1;
    if (!current) this.#sweepSequences(Date.now());
    this.#sequences.set(key, { value: next, expiresAt: keepUntil });
    return next;
  }

  async decrement(key: string, now: number): Promise<void> {
    const current = this.#counters.get(key);
    if (current && current.expiresAt > now && current.value > 0) current.value -= 1;
  }

  async get(key: string, now: number): Promise<number> {
    const current = this.#counters.get(key);
    return current && current.expiresAt > now ? current.value : 0;
  }

  /** Beyond 10,000 keys, at most once a second (every new key scanned them all before). */
  #sweepSequences(now: number): void {
    if (this.#sequences.size >= 10_000 && this.#sequenceSweeps.due(now)) dropExpired(this.#sequences, now);
  }

  #sweep(now: number): void {
    if (this.#counters.size >= 10_000 && this.#counterSweeps.due(now)) dropExpired(this.#counters, now);
  }
}

class MemoryApiKeys implements ApiKeyRepository {
  readonly #byId = new Map<string, ApiKeyRecord>();

  async insert(record: ApiKeyRecord): Promise<void> {
    if (this.#byId.has(record.id)) throw new DuplicateKeyError('id');
    if ([...this.#byId.values()].some((key) => key.keyHash === record.keyHash)) throw new DuplicateKeyError('key');
    this.#byId.set(record.id, copy(record));
  }

  async findByHash(keyHash: string): Promise<ApiKeyRecord | null> {
    for (const record of this.#byId.values()) if (record.keyHash === keyHash) return copy(record);
    return null;
  }

  async list(): Promise<ApiKeyRecord[]> {
    return [...this.#byId.values()].map(copy);
  }

  async delete(id: string): Promise<boolean> {
    return this.#byId.delete(id);
  }
}

class MemoryRefreshTokens implements RefreshTokenRepository {
  readonly #byHash = new Map<string, RefreshTokenRecord>();
  readonly #sweeps = new SweepClock();

  async insert(record: RefreshTokenRecord): Promise<void> {
    if (this.#byHash.has(record.tokenHash)) throw new DuplicateKeyError('token');
    this.#sweep(record.insertInstant);
    this.#byHash.set(record.tokenHash, copy(record));
  }

  async consume(tokenHash: string, now: number): Promise<RefreshTokenRecord | null> {
    const record = this.#byHash.get(tokenHash);
    if (!record || record.consumedAt !== undefined || record.expiresAt <= now) return null;
    record.consumedAt = now;
    return copy(record);
  }

  async findByHash(tokenHash: string): Promise<RefreshTokenRecord | null> {
    const record = this.#byHash.get(tokenHash);
    return record ? copy(record) : null;
  }

  async deleteChain(chainId: string): Promise<number> {
    let deleted = 0;
    for (const [hash, record] of this.#byHash) {
      if ((record.chainId ?? record.id) !== chainId) continue;
      this.#byHash.delete(hash);
      deleted += 1;
    }
    return deleted;
  }

  async deleteByUser(userId: string): Promise<number> {
    return deleteUserRecords(this.#byHash, userId);
  }

  async listByUser(userId: string, now: number): Promise<RefreshTokenRecord[]> {
    return [...this.#byHash.values()]
      .filter((record) => record.userId === userId && record.consumedAt === undefined && record.expiresAt > now)
      .sort((a, b) => a.insertInstant - b.insertInstant || a.id.localeCompare(b.id))
      .map(copy);
  }

  async deleteByHash(tokenHash: string): Promise<boolean> {
    return this.#byHash.delete(tokenHash);
  }

  async deleteByApplication(applicationId: string, userId?: string): Promise<number> {
    let deleted = 0;
    for (const [hash, record] of this.#byHash) {
      if (record.applicationId !== applicationId || (userId !== undefined && record.userId !== userId)) continue;
      this.#byHash.delete(hash);
      deleted += 1;
    }
    return deleted;
  }

  /** At most once a second: tokens live for weeks. */
  #sweep(now: number): void {
    if (this.#sweeps.due(now)) dropExpired(this.#byHash, now);
  }
}

export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  readonly users = new MemoryUsers();
  readonly codes = new MemoryCodes();
  readonly counters = new MemoryCounters();
  readonly apiKeys = new MemoryApiKeys();
  readonly refreshTokens = new MemoryRefreshTokens();
  readonly twoFactor = new MemoryTwoFactor();
  readonly twoFactorLogins = new MemoryTwoFactorLogins();
  readonly twoFactorTrusts = new MemoryTwoFactorTrusts();
  readonly webhookDeliveries = new MemoryWebhookDeliveries();
  readonly #oidc = new MemoryOidcTable();
  readonly #adapters = new Map<string, MemoryOidcAdapter>();

  oidcAdapter(model: string): Adapter {
    let adapter = this.#adapters.get(model);
    if (!adapter) {
      adapter = new MemoryOidcAdapter(model, this.#oidc);
      this.#adapters.set(model, adapter);
    }
    return adapter;
  }

  /**
   * Runs `work` in this process, as it comes: there is no rollback, so the caller writes what may
   * need undoing last (Events writes a scope's events after its change). See {@link Store.atomically}.
   */
  atomically<T>(work: () => Promise<T>): Promise<T> {
    return work();
  }

  async init(): Promise<void> {}

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}
