import { randomUUID } from 'node:crypto';
import type { ApiKeyRecord, PasswordlessCodeRecord, Store, UserRecord } from '../../../src/storage/types.js';

/** How the contract suite gets stores of one kind. */
export interface StoreHarness {
  /** Opens a store on storage no other suite uses; null when this kind cannot run here (cases are skipped). */
  open(): Promise<Store | null>;
  /**
   * Whether the losers of concurrent `consume` calls are rejected. node-oidc-provider checks
   * `consumed` and consumes in two steps, so only a rejecting loser stops a concurrent replay.
   */
  rejectsLosingConsume: boolean;
  /**
   * Whether an atomic update returns the state that update produced. MongoDB and the memory
   * store do; the jongodb test engine re-reads after its write, so a concurrent caller may see
   * a later count. Only the exact values depend on this; every update being counted does not.
   */
  readonly exactUpdateResults: boolean;
}

/**
 * Registers hooks that open a store for the enclosing `describe` and close it afterwards.
 * When the harness has no store to give, every case of the block is reported as skipped.
 */
export function useStore(harness: StoreHarness): () => Store {
  let store: Store | null = null;
  before(async function () {
    store = await harness.open();
    if (!store) this.skip();
  });
  after(async () => {
    await store?.close();
  });
  return () => {
    if (!store) throw new Error('the store is not open');
    return store;
  };
}

export const uniqueId = (): string => randomUUID();

export function makeUser(overrides: Partial<UserRecord> = {}): UserRecord {
  const id = overrides.id ?? uniqueId();
  const email = overrides.email ?? `${id}@example.test`;
  return {
    id,
    email,
    emailNormalized: email.toLowerCase(),
    preferredLanguages: [],
    data: {},
    active: true,
    verified: true,
    registrations: [],
    insertInstant: 1_700_000_000_000,
    lastUpdateInstant: 1_700_000_000_000,
    ...overrides,
  };
}

export function makeCode(overrides: Partial<PasswordlessCodeRecord> = {}): PasswordlessCodeRecord {
  const createdAt = overrides.createdAt ?? Date.now();
  const userId = overrides.userId ?? uniqueId();
  return {
    id: uniqueId(),
    shortHash: 'short-hash',
    userId,
    // By default a user's codes form one group, ordered as they were created.
    owner: userId,
    sequence: createdAt,
    clientId: 'client-a',
    interactionUid: null,
    state: null,
    status: 'active',
    attempts: 0,
    createdAt,
    expiresAt: createdAt + 180_000,
    retainUntil: createdAt + 3_600_000,
    ...overrides,
  };
}

export function makeApiKey(overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return {
    id: uniqueId(),
    keyHash: uniqueId(),
    description: 'test key',
    permissions: { '/api/passwordless/start': ['POST'] },
    insertInstant: 1_700_000_000_000,
    ...overrides,
  };
}

/** Runs `count` copies of `operation` at once and sorts the outcomes. */
export async function race<T>(count: number, operation: () => Promise<T>): Promise<{ fulfilled: T[]; rejected: unknown[] }> {
  const outcomes = await Promise.allSettled(Array.from({ length: count }, operation));
  return {
    fulfilled: outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : [])),
    rejected: outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason] : [])),
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
