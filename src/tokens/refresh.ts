import { randomUUID } from 'node:crypto';
import { randomBase64url } from '../passwordless/generators.js';
import { hashCode } from '../passwordless/hash.js';
import type { RefreshTokenRecord, RefreshTokenRepository } from '../storage/types.js';
import { log } from '../log.js';

export interface IssuedRefreshToken {
  refreshToken: string;
  refreshTokenId: string;
}

/**
 * Refresh tokens of the REST API. The plaintext leaves only in what `issue` returns; the
 * store keeps a SHA-256. Each use consumes the token (rotation); a token used again after it
 * was rotated was stolen or leaked, so its whole chain is revoked, the successor included.
 */
export class ApiRefreshTokens {
  constructor(
    private readonly repository: RefreshTokenRepository,
    private readonly timeToLiveInMinutes: number,
  ) {}

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
