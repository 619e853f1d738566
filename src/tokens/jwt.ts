import { randomUUID } from 'node:crypto';
import { importJWK, SignJWT, type JWK } from 'jose';
import type { UserRecord } from '../storage/types.js';

/** What a REST API login knows about the sign-in it puts into a JWT. */
export interface ApiTokenContext {
  /** The application (client_id) the token is for; becomes `aud` and `applicationId`. */
  applicationId: string | null;
  /** Roles of the user's registration for that application. */
  roles: string[];
  /** When the user authenticated (ms); `auth_time`. */
  authInstant: number;
}

export interface SignedApiToken {
  token: string;
  /** ms since the epoch, FusionAuth's `tokenExpirationInstant`. */
  expiresAt: number;
}

export type ApiJwtAlgorithm = 'ES256' | 'RS256';

/** The provider key for `alg`: one labelled with it, else one of its key type. */
function keyFor(jwks: { keys: JWK[] }, alg: ApiJwtAlgorithm): JWK | undefined {
  const matches = alg === 'ES256' ? (k: JWK) => k.kty === 'EC' && k.crv === 'P-256' : (k: JWK) => k.kty === 'RSA';
  return jwks.keys.find((k) => k.alg === alg) ?? jwks.keys.find((k) => !k.alg && matches(k));
}

/**
 * Signs the JWT of the REST API (FusionAuth's login `token`) with one of the provider's own
 * keys, so it verifies against the provider's `jwks_uri` like any ID token. ES256 by default:
 * signing is about five times cheaper than RS256, which dominates an API login's CPU.
 */
export class ApiTokenSigner {
  readonly #key: Promise<{ key: Awaited<ReturnType<typeof importJWK>>; kid: string | undefined }>;
  readonly alg: ApiJwtAlgorithm;

  constructor(
    private readonly issuer: string,
    jwks: { keys: JWK[] },
    private readonly timeToLiveInSeconds: number,
    preferred: ApiJwtAlgorithm = 'ES256',
  ) {
    const preferredKey = keyFor(jwks, preferred);
    this.alg = preferredKey ? preferred : 'RS256';
    const jwk = preferredKey ?? keyFor(jwks, 'RS256');
    if (!jwk) throw new Error(`the signing keys hold no ${preferred} or RS256 key; the API token cannot be signed`);
    const alg = this.alg;
    this.#key = importJWK(jwk, alg).then((key) => ({ key, kid: jwk.kid }));
  }

  async sign(user: UserRecord, context: ApiTokenContext, now = Date.now()): Promise<SignedApiToken> {
    const { key, kid } = await this.#key;
    const iat = Math.floor(now / 1000);
    const exp = iat + this.timeToLiveInSeconds;
    const claims: Record<string, unknown> = {
      auth_time: Math.floor(context.authInstant / 1000),
      authenticationType: 'PASSWORDLESS',
      email: user.email,
      email_verified: user.verified,
      roles: context.roles,
    };
    if (context.applicationId !== null) claims.applicationId = context.applicationId;
    const jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: this.alg, typ: 'JWT', ...(kid ? { kid } : {}) })
      .setIssuer(this.issuer)
      .setSubject(user.id)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(randomUUID());
    if (context.applicationId !== null) jwt.setAudience(context.applicationId);
    return { token: await jwt.sign(key), expiresAt: exp * 1000 };
  }
}
