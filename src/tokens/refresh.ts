import { randomUUID } from 'node:crypto';
import { randomBase64url } from '../passwordless/generators.js';
import { hashCode } from '../passwordless/hash.js';
import type { ClientConfig } from '../config/schema.js';
import type { RefreshTokenRecord, RefreshTokenRepository } from '../storage/types.js';
import { log } from '../log.js';

export interface IssuedRefreshToken {
  refreshToken: string;
  refreshTokenId: string;
}

/** FusionAuth's refresh token usage policy of an application. */
export type RefreshTokenUsagePolicy = 'OneTimeUse' | 'Reusable';

/** Each configured client's refresh token usage policy, by client_id (the others rotate). */
export function refreshTokenPolicies(clients: readonly ClientConfig[]): Map<string, RefreshTokenUsagePolicy> {
  const out = new Map<string, RefreshTokenUsagePolicy>();
  for (const client of clients) if (client.refreshTokenUsagePolicy) out.set(client.client_id, client.refreshTokenUsagePolicy);
  return out;
}

/** A refresh token accepted for an exchange: `reusable` when it stays valid (nothing was spent). */
export interface AcceptedRefreshToken {
  record: RefreshTokenRecord;
  reusable: boolean;
}

/**
 * Refresh tokens of the REST API. The plaintext leaves only in what `issue` returns; the
 * store keeps a SHA-256. By default each use consumes the token (rotation: FusionAuth's
 * OneTimeUse); a token used again after it was rotated was stolen or leaked, so its whole chain
 * is revoked, the successor included. An application configured `Reusable` (FusionAuth's
 * default) keeps its token until it expires or is revoked.
 */
export class ApiRefreshTokens {
  constructor(
    private readonly repository: RefreshTokenRepository,
    private readonly timeToLiveInMinutes: number,
    private readonly policies: ReadonlyMap<string, RefreshTokenUsagePolicy> = new Map(),
  ) {
    this.#anyReusable = [...policies.values()].includes('Reusable');
  }

  /** Whether any application keeps its tokens; without one, every exchange is a plain rotation. */
  readonly #anyReusable: boolean;

  /** The usage policy of an application's tokens; rotation unless it asked otherwise. */
  policyOf(applicationId: string): RefreshTokenUsagePolicy {
    return this.policies.get(applicationId) ?? 'OneTimeUse';
  }

  /**
   * Accepts a refresh token for an exchange: a Reusable application's token when it is known,
   * unexpired and not consumed; any other is consumed (see {@link consume}). Null when refused.
   * The policy needs the record read first; when no application is Reusable (the default) that
   * read is skipped, so a rotation costs what it did before policies existed.
   */
  async accept(refreshToken: string, now = Date.now()): Promise<AcceptedRefreshToken | null> {
    const known = this.#anyReusable ? await this.repository.findByHash(hashCode(refreshToken)) : null;
    if (known && this.policyOf(known.applicationId) === 'Reusable') {
      return known.consumedAt === undefined && known.expiresAt > now ? { record: known, reusable: true } : null;
    }
    const spent = await this.consume(refreshToken, now);
    return spent ? { record: spent, reusable: false } : null;
  }

  /**
   * FusionAuth's logout: revokes this token, or with `global` every token of its user (holding one
   * proves who the user is). The user's id when the token was known, else null.
   */
  async logout(refreshToken: string, global: boolean): Promise<string | null> {
    const known = await this.repository.findByHash(hashCode(refreshToken));
    if (!known) return null;
    if (global) await this.repository.deleteByUser(known.userId);
    else await this.repository.deleteByHash(known.tokenHash);
    return known.userId;
  }

  /** The user's usable tokens, as records (the token values themselves are not kept). */
  async listFor(userId: string, now = Date.now()): Promise<RefreshTokenRecord[]> {
    return this.repository.listByUser(userId, now);
  }

  /** Revokes one token by its value; false when it was not known. */
  async revokeToken(refreshToken: string): Promise<boolean> {
    return this.repository.deleteByHash(hashCode(refreshToken));
  }

  /** Revokes every token of a user, of an application, or of a user for an application; how many. */
  async revokeFor(target: { userId?: string; applicationId?: string }): Promise<number> {
    if (target.applicationId !== undefined) return this.repository.deleteByApplication(target.applicationId, target.userId);
    return target.userId !== undefined ? this.repository.deleteByUser(target.userId) : 0;
  }

  /** `chainId`: the chain a rotated token continues (its predecessor's); a new login starts one. */
  async issue(userId: string, applicationId: string, startInstant: number, now = Date.now(), chainId?: string): Promise<IssuedRefreshToken> {
    // 256 bits: the token is a bearer credential for a month.
    const refreshToken = randomBase64url(32);
    const record: RefreshTokenRecord = {
      id: randomUUID(),
      tokenHash: hashCode(refreshToken),
      userId,
      applicationId,
      startInstant,
      insertInstant: now,
      expiresAt: now + this.timeToLiveInMinutes * 60_000,
    };
    record.chainId = chainId ?? record.id;
    await this.repository.insert(record);
    return { refreshToken, refreshTokenId: record.id };
  }

  /**
   * Spends a refresh token; the record when it was valid, else null (unknown, expired, already
   * used). A token already used revokes its chain: whoever holds the successor loses it too.
   */
  async consume(refreshToken: string, now = Date.now()): Promise<RefreshTokenRecord | null> {
    const tokenHash = hashCode(refreshToken);
    const spent = await this.repository.consume(tokenHash, now);
    if (spent) return spent;
    const known = await this.repository.findByHash(tokenHash);
    if (known?.consumedAt !== undefined) {
      const revoked = await this.repository.deleteChain(known.chainId ?? known.id);
      log.warn('refresh.reuse_detected', { user: known.userId, client: known.applicationId, revoked });
    }
    return null;
  }
}
