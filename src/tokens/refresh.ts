import { randomUUID } from 'node:crypto';
import { randomBase64url } from '../passwordless/generators.js';
import { hashCode } from '../passwordless/hash.js';
import type { RefreshTokenRecord, RefreshTokenRepository } from '../storage/types.js';

export interface IssuedRefreshToken {
  refreshToken: string;
  refreshTokenId: string;
}

/**
 * Refresh tokens of the REST API. The plaintext leaves only in what `issue` returns; the
 * store keeps a SHA-256. Each use consumes the token (rotation).
 */
export class ApiRefreshTokens {
  constructor(
    private readonly repository: RefreshTokenRepository,
    private readonly timeToLiveInMinutes: number,
  ) {}

  async issue(userId: string, applicationId: string, startInstant: number, now = Date.now()): Promise<IssuedRefreshToken> {
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
    await this.repository.insert(record);
    return { refreshToken, refreshTokenId: record.id };
  }

  /** Spends a refresh token; the record when it was valid, else null (unknown, expired, already used). */
  async consume(refreshToken: string, now = Date.now()): Promise<RefreshTokenRecord | null> {
    return this.repository.consume(hashCode(refreshToken), now);
  }
}
