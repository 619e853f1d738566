import type { Adapter, AdapterPayload } from 'oidc-provider';
import { alreadyConsumed } from '../consume.js';
import { copy, type Expiring } from './shared.js';
import { loadedPayload, storedId, storedPayload } from '../bearer-ids.js';

/** All node-oidc-provider models share one table keyed by `model:id`. */
export class MemoryOidcTable {
  readonly entries = new Map<string, Expiring<AdapterPayload>>();
  readonly byGrant = new Map<string, Set<string>>();
  readonly byUid = new Map<string, string>();
  readonly byUserCode = new Map<string, string>();
  #writes = 0;

  get(key: string): AdapterPayload | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.remove(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: AdapterPayload, expiresInSeconds: number): void {
    this.remove(key);
    this.entries.set(key, { value, expiresAt: Date.now() + expiresInSeconds * 1000 });
    if (value.grantId) {
      const keys = this.byGrant.get(value.grantId) ?? new Set<string>();
      keys.add(key);
      this.byGrant.set(value.grantId, keys);
    }
    if (value.uid) this.byUid.set(value.uid, key);
    if (value.userCode) this.byUserCode.set(value.userCode, key);
    this.#writes += 1;
    if (this.#writes % 1000 === 0) this.sweep();
  }

  remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    const { grantId, uid, userCode } = entry.value;
    if (grantId) this.byGrant.get(grantId)?.delete(key);
    if (grantId && this.byGrant.get(grantId)?.size === 0) this.byGrant.delete(grantId);
    if (uid && this.byUid.get(uid) === key) this.byUid.delete(uid);
    if (userCode && this.byUserCode.get(userCode) === key) this.byUserCode.delete(userCode);
  }

  sweep(): void {
    const now = Date.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.remove(key);
  }
}

export class MemoryOidcAdapter implements Adapter {
  constructor(
    private readonly model: string,
    private readonly table: MemoryOidcTable,
  ) {}

  /** Bearer ids are kept as digests (see bearer-ids.ts). */
  #key(id: string): string {
    return `${this.model}:${storedId(this.model, id)}`;
  }

  #read(key: string | undefined): AdapterPayload | undefined {
    if (key === undefined || !key.startsWith(`${this.model}:`)) return undefined;
    const value = this.table.get(key);
    return value ? copy(value) : undefined;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    this.table.set(this.#key(id), copy(storedPayload(this.model, payload)), expiresIn);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return loadedPayload(this.model, this.#read(this.#key(id)), id);
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.#read(this.table.byUid.get(uid));
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.#read(this.table.byUserCode.get(userCode));
  }

  async consume(id: string): Promise<void> {
    const value = this.table.get(this.#key(id));
    if (!value) return;
    if (value.consumed) throw alreadyConsumed(this.model);
    value.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id: string): Promise<void> {
    this.table.remove(this.#key(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    // node-oidc-provider calls this on each token model in turn. Other models' entries of the
    // grant stay: an Interaction that carries the grantId must survive the logout that
    // precedes signing in as another user in the same browser (as with one collection per model).
    for (const key of [...(this.table.byGrant.get(grantId) ?? [])]) if (key.startsWith(`${this.model}:`)) this.table.remove(key);
  }
}
