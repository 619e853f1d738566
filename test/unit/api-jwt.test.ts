import { expect } from 'chai';
import { createLocalJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, type JWK } from 'jose';
import { ApiTokenSigner } from '../../src/tokens/jwt.js';
import { buildUser } from '../../src/accounts/users.js';

async function privateJwk(alg: 'RS256' | 'ES256', label = true) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: `${alg}-key`, ...(label ? { alg } : {}) };
}

/** The public half of private JWKs, as jwks_uri publishes it. */
function publicJwks(keys: JWK[]) {
  return createLocalJWKSet({ keys: keys.map(({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub }) => pub) });
}

describe('API JWT signing algorithm', () => {
  const user = buildUser({ email: 'a@example.com' });
  const context = { applicationId: 'app', roles: ['reader'], authInstant: Date.now() };

  it('signs with ES256 when asked and an EC key exists, RS256 when asked for it; both verify against the public keys', async () => {
    const keys = [await privateJwk('RS256'), await privateJwk('ES256')];
    const jwks = publicJwks(keys);
    for (const alg of ['ES256', 'RS256'] as const) {
      const signed = await new ApiTokenSigner('http://issuer', { keys }, 60, alg).sign(user, context);
      expect(decodeProtectedHeader(signed.token)).to.deep.equal({ alg, typ: 'JWT', kid: `${alg}-key` });
      const { payload } = await jwtVerify(signed.token, jwks, { issuer: 'http://issuer', audience: 'app', algorithms: [alg] });
      expect(payload).to.include({ sub: user.id, email: 'a@example.com', applicationId: 'app', authenticationType: 'PASSWORDLESS' });
      expect(payload.roles).to.deep.equal(['reader']);
      expect(payload.exp! - payload.iat!).to.equal(60);
      expect(signed.expiresAt).to.equal(payload.exp! * 1000);
    }
  });

  it('rejects a token whose payload was changed after signing', async () => {
    const keys = [await privateJwk('ES256')];
    const { token } = await new ApiTokenSigner('http://issuer', { keys }, 60).sign(user, context);
    const [header, payload, signature] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), roles: ['admin'] })).toString('base64url');
    let error: unknown = null;
    await jwtVerify(`${header}.${forged}.${signature}`, publicJwks(keys)).catch((err: unknown) => (error = err));
    expect((error as { code?: string } | null)?.code).to.equal('ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
  });

  it('falls back to RS256 when the keys hold no EC P-256 key', async () => {
    const keys = [await privateJwk('RS256', false)];
    const signer = new ApiTokenSigner('http://issuer', { keys }, 60, 'ES256');
    expect(signer.alg).to.equal('RS256');
    const { token } = await signer.sign(user, { ...context, applicationId: null });
    expect(decodeProtectedHeader(token).alg).to.equal('RS256');
    const { payload } = await jwtVerify(token, publicJwks(keys), { issuer: 'http://issuer' });
    expect(payload).to.not.have.property('aud');
  });
});
