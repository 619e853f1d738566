import { expect } from 'chai';
import { decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import { ApiTokenSigner } from '../../src/tokens/jwt.js';
import { buildUser } from '../../src/accounts/users.js';

async function privateJwk(alg: 'RS256' | 'ES256', label = true) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: `${alg}-key`, ...(label ? { alg } : {}) };
}

describe('API JWT signing algorithm', () => {
  const user = buildUser({ email: 'a@example.com' });
  const context = { applicationId: 'app', roles: [], authInstant: Date.now() };

  it('signs with ES256 when asked and an EC key exists, RS256 when asked for it', async () => {
    const jwks = { keys: [await privateJwk('RS256'), await privateJwk('ES256')] };
    const es = await new ApiTokenSigner('http://issuer', jwks, 60, 'ES256').sign(user, context);
    expect(decodeProtectedHeader(es.token)).to.include({ alg: 'ES256', kid: 'ES256-key' });
    const rs = await new ApiTokenSigner('http://issuer', jwks, 60, 'RS256').sign(user, context);
    expect(decodeProtectedHeader(rs.token)).to.include({ alg: 'RS256', kid: 'RS256-key' });
  });

  it('falls back to RS256 when the keys hold no EC P-256 key', async () => {
    const signer = new ApiTokenSigner('http://issuer', { keys: [await privateJwk('RS256', false)] }, 60, 'ES256');
    expect(signer.alg).to.equal('RS256');
    expect(decodeProtectedHeader((await signer.sign(user, context)).token).alg).to.equal('RS256');
  });
});
