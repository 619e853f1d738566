import { DuplicateKeyError, normalizeEmail, type UserRepository } from '../storage/types.js';
import { mayUseClient, recipientOf } from '../passwordless/magic-link.js';
import type { AccountDirectory } from '../passwordless/accounts.js';
import { buildUser } from './users.js';
import { log } from '../log.js';

/** Our users store as the sign-in sees accounts: a user receives a link when the client's rules let them in. */
export function userAccounts(users: UserRepository): AccountDirectory {
  return {
    async recipientFor(email, client) {
      const user = await users.findByEmail(normalizeEmail(email));
      return user && mayUseClient(user, client) ? recipientOf(user) : null;
    },
    async signInAccount(accountId, client) {
      const user = await users.findById(accountId);
      return user && mayUseClient(user, client) ? recipientOf(user) : null;
    },
    async recordSignIn(accountId, client) {
      await users.recordLogin(accountId, client.clientId, Date.now());
    },
    async createAccount(input, client) {
      const user = buildUser({ email: input.email, ...input.fields, verified: true, registrations: [{ applicationId: client.clientId, roles: input.roles }] });
      try {
        await users.insert(user);
        log.info('user.signed_up', { user: user.id, client: client.clientId });
        return recipientOf(user);
      } catch (err) {
        // Another sign-up, the API or the CLI made the address's account first: that one signs in.
        const existing = err instanceof DuplicateKeyError ? await users.findByEmail(normalizeEmail(input.email)) : null;
        if (!existing) throw err;
        log.info('user.sign_up_raced', { user: existing.id, client: client.clientId });
        return recipientOf(existing);
      }
    },
  };
}
