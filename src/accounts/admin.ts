import { randomUUID } from 'node:crypto';
import { normalizeEmail, normalizeUserId, type Registration, type Store, type UserRecord, type UserRepository } from '../storage/types.js';
import { buildUser, modifyUser, PROFILE_FIELDS, registrationFor, setProfileField, type NewUser, type ProfileField } from './users.js';

export { isExpired, modifyUser } from './users.js';

/**
 * User administration shared by the REST API and the command line: create, change, register,
 * lock and delete. Callers validate input; these functions keep the records consistent.
 */

/** Fields of a user that an administrator may change. `undefined` leaves a field as it is; `null` clears it. */
export type UserChanges = { [K in ProfileField]?: string | null } & {
  email?: string;
  preferredLanguages?: string[];
  /** Merged key by key into the existing data (FusionAuth PATCH semantics), unless `replaceData`. */
  data?: Record<string, unknown>;
  /** `data` replaces the user's data whole (FusionAuth PUT semantics). */
  replaceData?: boolean;
  active?: boolean;
  verified?: boolean;
  expiry?: number | null;
};

/**
 * The changes a FusionAuth PUT makes: the user becomes what the request gives. Profile fields,
 * languages, data and expiry it leaves out are removed; `active` and `verified` stay as they are
 * unless given (a replace that forgot them must not lock or unverify anyone); registrations are
 * the registration API's business and stay.
 */
export function replacementOf(input: Omit<UserChanges, 'replaceData'> & { email: string }): UserChanges {
  const changes: UserChanges = { ...input, preferredLanguages: input.preferredLanguages ?? [], data: input.data ?? {}, replaceData: true, expiry: input.expiry ?? null };
  for (const key of PROFILE_FIELDS) changes[key] = input[key] ?? null;
  return changes;
}

/** A user id (UUID) or an email address. */
export async function findUser(users: UserRepository, idOrEmail: string): Promise<UserRecord | null> {
  return idOrEmail.includes('@') ? users.findByEmail(normalizeEmail(idOrEmail)) : users.findById(normalizeUserId(idOrEmail));
}

/** Inserts a new user; throws DuplicateKeyError when the id or email is taken. */
export async function createUser(users: UserRepository, input: NewUser & { expiry?: number }, now = Date.now()): Promise<UserRecord> {
  const user = buildUser(input, now);
  if (input.expiry !== undefined) user.expiry = input.expiry;
  await users.insert(user);
  return user;
}


/** `changes` applied to `user` in place. */
function applyChanges(user: UserRecord, changes: UserChanges, now: number): void {
  if (changes.email !== undefined) {
    user.email = changes.email.trim();
    user.emailNormalized = normalizeEmail(changes.email);
  }
  for (const key of PROFILE_FIELDS) setProfileField(user, key, changes[key]);
  if (changes.preferredLanguages !== undefined) user.preferredLanguages = [...changes.preferredLanguages];
  if (changes.data !== undefined) user.data = changes.replaceData ? { ...changes.data } : { ...user.data, ...changes.data };
  if (changes.active !== undefined) user.active = changes.active;
  if (changes.active === false) user.lockedAt = now;
  if (changes.verified !== undefined) user.verified = changes.verified;
  if (changes.expiry === null) delete user.expiry;
  else if (changes.expiry !== undefined) user.expiry = changes.expiry;
  user.lastUpdateInstant = now;
}

/**
 * Applies changes to a user; null when there is no such user. A concurrent change to the same
 * user is kept, not overwritten (see modifyUser). Throws DuplicateKeyError on an email clash.
 * Locking (`active: false`) also revokes the user's API refresh tokens, so a locked user keeps
 * no way back in.
 */
export async function updateUser(store: Pick<Store, 'users' | 'refreshTokens'>, id: string, changes: UserChanges, now = Date.now()): Promise<UserRecord | null> {
  const outcome = await modifyUser(store.users, id, (user) => {
    applyChanges(user, changes, now);
    return null;
  });
  if (!outcome || !('user' in outcome)) return null;
  if (changes.active === false) await store.refreshTokens.deleteByUser(id);
  return outcome.user;
}

export type RegisterResult =
  | { ok: true; user: UserRecord; registration: Registration }
  | { ok: false; problem: 'no_user' | 'already_registered' };

/** Registers a user to an application with roles; a concurrent change to the user is kept. */
export async function registerUser(
  users: UserRepository,
  userId: string,
  input: { applicationId: string; roles?: string[] },
  now = Date.now(),
): Promise<RegisterResult> {
  const registration: Registration = { id: randomUUID(), applicationId: input.applicationId, roles: [...new Set(input.roles ?? [])], insertInstant: now };
  const outcome = await modifyUser(users, userId, (user) => {
    if (registrationFor(user, input.applicationId)) return 'already_registered';
    user.registrations.push(registration);
    user.lastUpdateInstant = now;
    return null;
  });
  if (!outcome) return { ok: false, problem: 'no_user' };
  if ('refused' in outcome) return { ok: false, problem: outcome.refused };
  return { ok: true, user: outcome.user, registration };
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
