import { createPrivateKey, createPublicKey, createSecretKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JWK, type JWTPayload } from 'jose';
import type { ClientJwtSettings } from './jwt.js';

/** One public signing key of the provider, as the JWT API hands it out. */
export interface PublicSigningKey {
  kid: string;
  alg: string | undefined;
  /** The public JWK (no private members). */
  jwk: JWK;
  /** SubjectPublicKeyInfo PEM: FusionAuth's `publicKey` format. */
  pem: string;
}

/** The public half of a private JWK, with its kid, alg and use kept. */
function publicKeyOf(jwk: JWK): PublicSigningKey | null {
  if (jwk.kty !== 'EC' && jwk.kty !== 'RSA' && jwk.kty !== 'OKP') return null;
  const key: KeyObject = jwk.d === undefined ? createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }) : createPublicKey(createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' }));
  const kid = jwk.kid ?? '';
  const exported = key.export({ format: 'jwk' }) as JWK;
  return {
    kid,
    alg: jwk.alg,
    jwk: { ...exported, ...(jwk.kid ? { kid: jwk.kid } : {}), ...(jwk.alg ? { alg: jwk.alg } : {}), use: jwk.use ?? 'sig' },
    pem: key.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** The application a token says it was issued for: FusionAuth's `applicationId` claim, else a single `aud`. */
function applicationOf(claims: JWTPayload): string | null {
  if (typeof claims.applicationId === 'string') return claims.applicationId;
  return typeof claims.aud === 'string' ? claims.aud : null;
}

/**
 * Verifies the JWTs this server issues (the REST API's login `token`, ID tokens) and publishes
 * the public keys they verify with: FusionAuth's `/api/jwt/validate` and `/api/jwt/public-key`.
 * An HS256 token verifies only with the secret of the application it names, and an asymmetric
 * one only with the provider's public keys, so neither kind can pass as the other.
 */
export class ApiTokenVerifier {
  readonly keys: readonly PublicSigningKey[];
  readonly #jwks: ReturnType<typeof createLocalJWKSet>;
  readonly #secrets = new Map<string, KeyObject>();

  constructor(
    private readonly issuer: string,
    privateJwks: { keys: JWK[] },
    clients: ReadonlyMap<string, ClientJwtSettings>,
  ) {
    this.keys = privateJwks.keys.map(publicKeyOf).filter((k): k is PublicSigningKey => k !== null);
    this.#jwks = createLocalJWKSet({ keys: this.keys.map((k) => k.jwk) });
    for (const [clientId, settings] of clients) {
      if (settings.signingAlgorithm === 'HS256' && settings.secret !== undefined) this.#secrets.set(clientId, createSecretKey(Buffer.from(settings.secret, 'utf8')));
    }
  }

  /** The claims of a valid token (right signature, our issuer, not expired); null for anything else. */
  async verify(token: string): Promise<JWTPayload | null> {
    try {
      const header = decodeProtectedHeader(token);
      if (header.alg === 'HS256') {
        const application = applicationOf(decodeJwt(token));
        const secret = application === null ? undefined : this.#secrets.get(application);
        if (!secret) return null;
        return (await jwtVerify(token, secret, { issuer: this.issuer, algorithms: ['HS256'] })).payload;
      }
      return (await jwtVerify(token, this.#jwks, { issuer: this.issuer, algorithms: ['ES256', 'RS256', 'PS256', 'EdDSA'] })).payload;
    } catch {
      // Malformed, wrongly signed, expired, another issuer: all are simply not valid.
      return null;
    }
  }
}
