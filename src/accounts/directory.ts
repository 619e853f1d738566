import { DuplicateKeyError, normalizeEmail, type UserRepository } from '../storage/types.js';
import { mayUseClient, recipientOf } from '../passwordless/magic-link.js';
import type { AccountDirectory } from '../passwordless/accounts.js';
import { buildUser } from './users.js';
import { log } from '../log.js';
import { NO_EVENTS, type EventStep, type Events } from '../events/events.js';

/**
 * Our users store as the sign-in sees accounts: a user receives a link when the client's rules
 * let them in. `events`, when given, hears of sign-ins and sign-ups before the sign-in finishes,
 * each written in the same step of the store as the change it reports (Events.atomically).
 */
export function userAccounts(users: UserRepository, events?: Events): AccountDirectory {
  /** `change` and the events it emits stored together (plainly when there are no events). */
  const withEvents = <T>(change: (step: EventStep) => Promise<T>): Promise<T> => (events ? events.atomically(change) : change(NO_EVENTS));
  return {
    async recipientFor(email, client) {
      const user = await users.findByEmail(normalizeEmail(email));
      return user && mayUseClient(user, client) ? recipientOf(user) : null;
    },
    async signInAccount(accountId, client) {
      const user = await users.findById(accountId);
      return user && mayUseClient(user, client) ? recipientOf(user) : null;
    },
    async recordSignIn(accountId, client, method) {
      await withEvents(async (step) => {
        const user = await users.recordLogin(accountId, client.clientId, Date.now());
        step.emit('user.login.success', { user, userId: accountId, applicationId: client.clientId, fields: { authenticationType: 'PASSWORDLESS', method } });
      });
    },
    async createAccount(input, client) {
      const user = buildUser({ email: input.email, ...input.fields, verified: true, registrations: [{ applicationId: client.clientId, roles: input.roles }] });
      try {
        await withEvents(async (step) => {
          await users.insert(user);
          step.emit('user.create', { user, applicationId: client.clientId, fields: { signUp: true } });
          step.emit('user.registration.create', { user, applicationId: client.clientId, fields: { signUp: true } });
        });
        log.info('user.signed_up', { user: user.id, client: client.clientId });
        return recipientOf(user);
      } catch (err) {
        // Outside the step, which a duplicate ended (on MongoDB it aborted the transaction).
        // Another sign-up, the API or the CLI made the address's account first: that one signs in.
        const existing = err instanceof DuplicateKeyError ? await users.findByEmail(normalizeEmail(input.email)) : null;
        if (!existing) throw err;
        log.info('user.sign_up_raced', { user: existing.id, client: client.clientId });
        return recipientOf(existing);
      }
    },
  };
}
