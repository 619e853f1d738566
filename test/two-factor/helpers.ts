import { expect } from 'chai';
import { Secret, TOTP } from 'otpauth';
import { createUser } from '../../src/accounts/admin.js';
import type { TestServer } from '../helpers/server.js';
import { ADMIN_KEY, call } from '../api/helpers.js';

/** The code an authenticator app shows for `secret`, `offsetSteps` steps from now. */
export function totpCode(secretBase32: string, offsetSteps = 0): string {
  return TOTP.generate({ secret: Secret.fromBase32(secretBase32), algorithm: 'SHA1', digits: 6, period: 30, timestamp: Date.now() + offsetSteps * 30_000 });
}

export interface Enrolled {
  id: string;
  email: string;
  secret: string;
  recoveryCodes: string[];
}

let counter = 0;

/**
 * A new user (registered to the web client) with an authenticator enrolled through the API.
 * It enrols with the previous step's code, so the current and next codes remain for sign-ins.
 */
export async function enrolledUser(server: TestServer, prefix = 'totp'): Promise<Enrolled> {
  const email = `${prefix}-${Date.now()}-${(counter += 1)}@example.com`;
  const user = await createUser(server.app.store.users, { email, registrations: [{ applicationId: 'web', roles: ['member'] }] });
  const secret = await call(server, 'GET', '/api/two-factor/secret', { key: ADMIN_KEY });
  expect(secret.status).to.equal(200);
  const secretBase32 = secret.json!.secretBase32Encoded as string;
  const enabled = await call(server, 'POST', `/api/user/two-factor/${user.id}`, { key: ADMIN_KEY, body: { method: 'authenticator', code: totpCode(secretBase32, -1), secretBase32Encoded: secretBase32 } });
  expect(enabled.status, enabled.text).to.equal(200);
  return { id: user.id, email, secret: secretBase32, recoveryCodes: enabled.json!.recoveryCodes as string[] };
}

/** A new user without a second factor. */
export async function plainUser(server: TestServer): Promise<{ id: string; email: string }> {
  const email = `plain-${Date.now()}-${(counter += 1)}@example.com`;
  const user = await createUser(server.app.store.users, { email, registrations: [{ applicationId: 'web', roles: [] }] });
  return { id: user.id, email };
}
