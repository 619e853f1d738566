import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import type { ApiKeyRecord, ApiKeyRepository } from '../storage/types.js';
import { redactPath } from '../http/request-log.js';
import { log } from '../log.js';
import { hashCode } from '../passwordless/hash.js';
import { answerEmpty } from './respond.js';

/** Endpoint path (or `*`) → HTTP methods (or `*`). */
export type Permissions = Record<string, string[]>;

interface KnownKey {
  hash: Buffer;
  description: string;
  permissions: Permissions;
}

/** SHA-256 (hex) of an API key, as stored. */
export function hashApiKey(key: string): string {
  return hashCode(key);
}

/** The key a caller presented: `Authorization: <key>` (FusionAuth) or `Authorization: Bearer <key>`. */
export function presentedKey(header: string | undefined): string | null {
  if (!header) return null;
  const value = header.trim();
  const key = /^bearer\s+/i.test(value) ? value.replace(/^bearer\s+/i, '') : value;
  return key.length > 0 && key.length <= 512 ? key : null;
}

function methodAllowed(methods: readonly string[], method: string): boolean {
  return methods.some((m) => m === '*' || m.toUpperCase() === method || (method === 'HEAD' && m.toUpperCase() === 'GET'));
}

/**
 * Does a key's permissions cover this call? A permission on `/api/user` covers `/api/user/<id>`
 * too, as FusionAuth's endpoint permissions do; `*` covers every endpoint.
 */
export function permits(permissions: Permissions, method: string, path: string): boolean {
  return Object.entries(permissions).some(([endpoint, methods]) => {
    const covers = endpoint === '*' || endpoint === path || path.startsWith(endpoint.endsWith('/') ? endpoint : `${endpoint}/`);
    return covers && methodAllowed(methods, method);
  });
}

/** A fresh API key: 32 random bytes, base64url (the plaintext is shown once, then only its hash exists). */
export function generateApiKey(): string {
  return randomBytes(32).toString('base64url');
}

/** Creates and stores a key; returns the plaintext (once) and the stored record. */
export async function createApiKey(repository: ApiKeyRepository, input: { description: string; permissions: Permissions }, now = Date.now()): Promise<{ key: string; record: ApiKeyRecord }> {
  const key = generateApiKey();
  const record: ApiKeyRecord = { id: randomUUID(), keyHash: hashApiKey(key), description: input.description, permissions: input.permissions, insertInstant: now };
  await repository.insert(record);
  return { key, record };
}

/**
 * Checks API keys: those of the configuration (hashed at start-up, so no plaintext stays in
 * memory) and those in the store (created by the CLI).
 */
export class ApiKeyAuthority {
  readonly #configured: KnownKey[];

  constructor(
    configured: readonly { key: string; description?: string | undefined; permissions: Permissions }[],
    private readonly repository: ApiKeyRepository,
  ) {
    this.#configured = configured.map((k) => ({ hash: Buffer.from(hashApiKey(k.key), 'hex'), description: k.description ?? '', permissions: k.permissions }));
  }

  /** The permissions of a presented key, or null when it is not a key of ours. */
  async permissionsOf(key: string): Promise<Permissions | null> {
    const hashHex = hashApiKey(key);
    const hash = Buffer.from(hashHex, 'hex');
    // Compare against every configured key, in constant time each, so timing says nothing.
    let match: KnownKey | null = null;
    for (const known of this.#configured) if (timingSafeEqual(known.hash, hash) && !match) match = known;
    if (match) return match.permissions;
    const stored = await this.repository.findByHash(hashHex);
    if (stored && timingSafeEqual(Buffer.from(stored.keyHash, 'hex'), hash)) return stored.permissions;
    return null;
  }

  /** Whether an Authorization header carries a key allowed `method` on `path`; logs refusals (never the key). */
  async allows(authorization: string | undefined, method: string, path: string): Promise<boolean> {
    const key = presentedKey(authorization);
    const permissions = key ? await this.permissionsOf(key) : null;
    if (permissions && permits(permissions, method, path)) return true;
    log.info('apikey.denied', { method, path: redactPath(path), reason: key ? (permissions ? 'insufficient' : 'unknown_key') : 'no_key' });
    return false;
  }

  /** Middleware: 401 with an empty body unless the request carries a key allowed to make this call. */
  require(): Middleware {
    return async (ctx, next) => {
      if (!(await this.allows(ctx.get('authorization') || undefined, ctx.method, ctx.path))) return answerEmpty(ctx, 401);
      await next();
    };
  }
}
