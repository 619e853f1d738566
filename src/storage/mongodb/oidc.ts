import type { Collection, Db, Filter, IndexDescription } from 'mongodb';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { alreadyConsumed } from '../consume.js';
import { guarded } from './errors.js';
import { BEARER_ID_MODELS, loadedPayload, storedId, storedPayload } from '../bearer-ids.js';

/** One stored node-oidc-provider entity; `expiresAt` drives the TTL index. */
export interface OidcDocument {
  _id: string;
  payload: AdapterPayload;
  expiresAt?: Date;
}

/** Every model node-oidc-provider 9 stores through an adapter. */
export const OIDC_MODELS = [
  'Session',
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'ClientCredentials',
  'Client',
  'InitialAccessToken',
  'RegistrationAccessToken',
  'Interaction',
  'ReplayDetection',
  'PushedAuthorizationRequest',
  'Grant',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
] as const;

/** Models whose payload carries `grantId`, i.e. what a grant revocation has to remove. */
export const GRANT_BOUND_MODELS: ReadonlySet<string> = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
  'Interaction',
]);

export function oidcCollectionName(model: string): string {
  return `oidc_${model}`;
}

/**
 * Indexes of one model's collection. The uid/userCode indexes are partial so the many
 * documents without the field do not collide on a missing value.
 */
export function oidcIndexes(model: string): IndexDescription[] {
  const indexes: IndexDescription[] = [{ key: { expiresAt: 1 }, name: 'expiresAt_ttl', expireAfterSeconds: 0 }];
  if (GRANT_BOUND_MODELS.has(model)) indexes.push({ key: { 'payload.grantId': 1 }, name: 'payload.grantId_1' });
  if (model === 'Session') indexes.push(uniqueWhenPresent('payload.uid'));
  if (model === 'DeviceCode') indexes.push(uniqueWhenPresent('payload.userCode'));
  return indexes;
}

function uniqueWhenPresent(path: string): IndexDescription {
  return { key: { [path]: 1 }, name: `${path}_1`, unique: true, partialFilterExpression: { [path]: { $exists: true } } };
}

const epochSeconds = (): number => Math.floor(Date.now() / 1000);

/**
 * node-oidc-provider's adapter over one collection per model. The TTL monitor removes
 * expired documents only about once a minute, so every read checks `expiresAt` itself.
 * Entities whose id is a bearer value are kept under a digest of it, without the id in the
 * payload (see bearer-ids.ts); one stored under the id itself before that (an older version)
 * is still found, used and removed by it until it expires.
 */
export class MongoOidcAdapter implements Adapter {
  readonly #collection: Collection<OidcDocument>;

  constructor(
    private readonly model: string,
    db: Db,
  ) {
    this.#collection = db.collection<OidcDocument>(oidcCollectionName(model));
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const document: Omit<OidcDocument, '_id'> = { payload: storedPayload(this.model, payload) };
    if (expiresIn !== undefined) document.expiresAt = new Date(Date.now() + expiresIn * 1000);
    await guarded(() => this.#collection.replaceOne({ _id: storedId(this.model, id) }, document, { upsert: true }));
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return loadedPayload(this.model, await this.#findOne({ _id: { $in: this.#keys(id) } }), id);
  }

  /** Where an entity may be: under the digest of its id, and, for a bearer id, under the id itself (stored by an older version). */
  #keys(id: string): string[] {
    return BEARER_ID_MODELS.has(this.model) ? [storedId(this.model, id), id] : [id];
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.#findOne({ 'payload.uid': uid });
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.#findOne({ 'payload.userCode': userCode });
  }

  /**
   * Marks the entity consumed once; a concurrent second consume rejects (see {@link alreadyConsumed}).
   * A conditional updateOne is the single atomic step: no document needs to come back.
   */
  async consume(id: string): Promise<void> {
    const result = await guarded(() =>
      this.#collection.updateOne(
        { _id: { $in: this.#keys(id) }, 'payload.consumed': { $exists: false } },
        { $set: { 'payload.consumed': epochSeconds() } },
      ),
    );
    if (result.modifiedCount === 1) return;
    // Nothing to consume at all (destroyed or purged) is not a race; stay silent like the memory store.
    if (await this.find(id)) throw alreadyConsumed(this.model);
  }

  async destroy(id: string): Promise<void> {
    await guarded(() => this.#collection.deleteMany({ _id: { $in: this.#keys(id) } }));
  }

  /**
   * node-oidc-provider calls this on each token model it wants cleared (access and refresh
   * tokens, codes, …), so it removes this model's entities only. Sweeping every model would
   * also destroy a sign-in (Interaction) that merely carries the grant id.
   */
  async revokeByGrantId(grantId: string): Promise<void> {
    await guarded(() => this.#collection.deleteMany({ 'payload.grantId': grantId }));
  }

  async #findOne(filter: Filter<OidcDocument>): Promise<AdapterPayload | undefined> {
    const document = await guarded(() => this.#collection.findOne(filter, { projection: { _id: 0 } }));
    if (!document || isExpired(document)) return undefined;
    return document.payload;
  }
}

function isExpired(document: Pick<OidcDocument, 'expiresAt'>): boolean {
  return document.expiresAt !== undefined && document.expiresAt.getTime() <= Date.now();
}
