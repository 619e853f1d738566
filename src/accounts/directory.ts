import { DuplicateKeyError, normalizeEmail, type UserRecord, type UserRepository } from '../storage/types.js';
import { mayUseClient, recipientOf } from '../passwordless/magic-link.js';
import type { AccountDirectory } from '../passwordless/accounts.js';
import { buildUser } from './users.js';
import { log } from '../log.js';
import { withEvents, type EventInput, type Events } from '../events/events.js';

/**
 * Records a login on the user and writes its user.login.success, in one step of the store: the
 * hosted sign-in and the API login both end here. The user as stored afterwards (null when gone).
 */
export function recordLoginWithEvent(
  users: UserRepository,
  events: Events | undefined,
  login: { userId: string; applicationId: string | null; now: number; info?: EventInput['info']; method?: string },
): Promise<UserRecord | null> {
  return withEvents(events, async (step) => {
    const user = await users.recordLogin(login.userId, login.applicationId, login.now);
    step.emit('user.login.success', {
      user,
      userId: login.userId,
      applicationId: login.applicationId,
      ...(login.info ? { info: login.info } : {}),
      fields: { authenticationType: 'PASSWORDLESS', ...(login.method ? { method: login.method } : {}) },
    });
    return user;
  });
}

/**
 * Our users store as the sign-in sees accounts: a user receives a link when the client's rules
 * let them in. `events`, when given, hears of sign-ins and sign-ups before the sign-in finishes,
 * each written in the same step of the store as the change it reports (Events.atomically).
 */
export function userAccounts(users: UserRepository, events?: Events): AccountDirectory {
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
      await recordLoginWithEvent(users, events, { userId: accountId, applicationId: client.clientId, now: Date.now(), method });
    },
    async createAccount(input, client) {
      const user = buildUser({ email: input.email, ...input.fields, verified: true, registrations: [{ applicationId: client.clientId, roles: input.roles }] });
      try {
        await withEvents(events, async (step) => {
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
