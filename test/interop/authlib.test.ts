import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { ALICE, WEB_CLIENT, startTestServer, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
/** Debian's interpreter: python3-authlib and python3-requests install for it (.ci/run installs them). */
const PYTHON = '/usr/bin/python3';

async function pythonWithAuthlib(): Promise<string | null> {
  try {
    await run(PYTHON, ['-c', 'import authlib, requests'], { timeout: 20_000 });
    return null;
  } catch (err) {
    return `${PYTHON} with Authlib and requests is not installed here (apt-get install -y python3-authlib python3-requests): ${(err as Error).message.split('\n')[0]}`;
  }
}

/** A relying party that is not JavaScript: Authlib (Python), unmodified, through the whole flow. */
describe('a Python relying party (Authlib + requests)', function () {
  this.timeout(60_000);
  let server: TestServer;

  before(async function () {
    const missing = await pythonWithAuthlib();
    if (missing) {
      // Said out loud, never a silent pass.
      console.log(`      [interop] SKIPPED: ${missing}`);
      this.skip();
    }
    server = await startTestServer();
  });
  after(() => server?.stop());

  it('signs in, validates the ID token against the JWKS, reads userinfo, refreshes as Authlib does by default, revokes and logs out', async () => {
    const { stdout } = await run(
      PYTHON,
      [path.join(here, 'authlib_rp.py'), server.issuer, WEB_CLIENT.client_id, WEB_CLIENT.client_secret, WEB_CLIENT.redirect_uris[0]!, WEB_CLIENT.post_logout_redirect_uris[0]!, ALICE.email],
      { timeout: 50_000, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } },
    );
    const seen = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    console.log(`      [interop] Authlib ${String(seen.authlib)}, requests ${String(seen.requests)}`);
    expect(String(seen.scope).split(' ')).to.include.members(['openid', 'email', 'profile', 'offline_access']);
    expect(seen.claims).to.deep.include({ email: ALICE.email, email_verified: true, amr: ['email'] });
    expect(seen.userinfo_email).to.equal(ALICE.email);
    expect(String(seen.refreshed_scope).split(' ')).to.include('offline_access');
    expect(seen.refreshed_claims).to.deep.equal({ sub: (seen.claims as { sub: string }).sub, email: ALICE.email, email_verified: true });
    expect(seen.refresh_rotated).to.equal(true);
    expect(seen.revocation_status).to.equal(200);
    expect(seen.after_revocation).to.equal('invalid_grant');
    expect(seen.logged_out_to).to.equal(WEB_CLIENT.post_logout_redirect_uris[0]);
  });
});
