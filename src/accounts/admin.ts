import { randomUUID } from 'node:crypto';
import { normalizeEmail, type Registration, type Store, type UserRecord, type UserRepository } from '../storage/types.js';
import { buildUser, registrationFor, type NewUser } from './users.js';

export { isExpired } from './users.js';

/**
 * User administration shared by the REST API and the command line: create, change, register,
 * lock and delete. Callers validate input; these functions keep the records consistent.
 */

/** Fields of a user that an administrator may change. `undefined` leaves a field as it is; `null` clears it. */
export interface UserChanges {
  email?: string;
  firstName?: string | null;
  lastName?: string | null;
  preferredLanguages?: string[];
  timezone?: string | null;
  /** Merged key by key into the existing data (FusionAuth PATCH semantics). */
  data?: Record<string, unknown>;
  active?: boolean;
  verified?: boolean;
  expiry?: number | null;
}

/** A user id (UUID) or an email address. */
export async function findUser(users: UserRepository, idOrEmail: string): Promise<UserRecord | null> {
  return idOrEmail.includes('@') ? users.findByEmail(normalizeEmail(idOrEmail)) : users.findById(idOrEmail);
}

/** Inserts a new user; throws DuplicateKeyError when the id or email is taken. */
export async function createUser(users: UserRepository, input: NewUser & { expiry?: number }, now = Date.now()): Promise<UserRecord> {
  const user = buildUser(input, now);
  if (input.expiry !== undefined) user.expiry = input.expiry;
  await users.insert(user);
  return user;
}

function setOptional<K extends 'firstName' | 'lastName' | 'timezone'>(user: UserRecord, key: K, value: string | null | undefined): void {
  if (value === undefined) return;
  if (value === null) delete user[key];
  else user[key] = value;
}

/**
 * Applies changes to a user; null when there is no such user. Throws DuplicateKeyError on an
 * email clash. Locking (`active: false`) also revokes the user's API refresh tokens, so a locked
 * user keeps no way back in.
 */
export async function updateUser(store: Pick<Store, 'users' | 'refreshTokens'>, id: string, changes: UserChanges, now = Date.now()): Promise<UserRecord | null> {
  const { users } = store;
  const user = await users.findById(id);
  if (!user) return null;
  if (changes.email !== undefined) {
    user.email = changes.email.trim();
    user.emailNormalized = normalizeEmail(changes.email);
  }
  setOptional(user, 'firstName', changes.firstName);
  setOptional(user, 'lastName', changes.lastName);
  setOptional(user, 'timezone', changes.timezone);
  if (changes.preferredLanguages !== undefined) user.preferredLanguages = [...changes.preferredLanguages];
  if (changes.data !== undefined) user.data = { ...user.data, ...changes.data };
  if (changes.active !== undefined) user.active = changes.active;
  if (changes.verified !== undefined) user.verified = changes.verified;
  if (changes.expiry === null) delete user.expiry;
  else if (changes.expiry !== undefined) user.expiry = changes.expiry;
  user.lastUpdateInstant = now;
  if (!(await users.replace(user))) return null;
  if (changes.active === false) await store.refreshTokens.deleteByUser(id);
  return user;
}

export type RegisterResult =
  | { ok: true; user: UserRecord; registration: Registration }
  | { ok: false; problem: 'no_user' | 'already_registered' };

/** Registers a user to an application with roles. */
export async function registerUser(
  users: UserRepository,
  userId: string,
  input: { applicationId: string; roles?: string[] },
  now = Date.now(),
): Promise<RegisterResult> {
  const user = await users.findById(userId);
  if (!user) return { ok: false, problem: 'no_user' };
  if (registrationFor(user, input.applicationId)) return { ok: false, problem: 'already_registered' };
  const registration: Registration = { id: randomUUID(), applicationId: input.applicationId, roles: [...new Set(input.roles ?? [])], insertInstant: now };
  user.registrations.push(registration);
  user.lastUpdateInstant = now;
  if (!(await users.replace(user))) return { ok: false, problem: 'no_user' };
  return { ok: true, user, registration };
}

/**
 * Deletes a user and what is kept for them: API refresh tokens, passwordless codes, logins
 * waiting for a second factor, the authenticator and every trusted device (nothing of a deleted
 * user may outlive them, nor be inherited by a later user given the same id). The user goes
 * first, so no new code can be issued for them meanwhile. False when there was no such user.
 */
export async function deleteUser(store: Pick<Store, 'users' | 'refreshTokens' | 'codes' | 'twoFactor' | 'twoFactorLogins' | 'twoFactorTrusts'>, id: string): Promise<boolean> {
  if (!(await store.users.delete(id))) return false;
  await store.refreshTokens.deleteByUser(id);
  await store.codes.deleteByUser(id);
  await store.twoFactorLogins.deleteByUser(id);
  await store.twoFactor.delete(id);
  await store.twoFactorTrusts.deleteByUser(id);
  return true;
}
