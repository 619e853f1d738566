import { normalizeEmail, type UserRepository } from '../storage/types.js';
import { mayUseClient, recipientOf } from '../passwordless/magic-link.js';
import type { AccountDirectory } from '../passwordless/accounts.js';

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
  };
}
