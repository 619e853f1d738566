import { randomUUID } from 'node:crypto';
import type { SeedUser } from '../config/schema.js';
import { DuplicateKeyError, normalizeEmail, normalizeUsername, WriteConflictError, type Registration, type UserRecord, type UserRepository } from '../storage/types.js';

/** FusionAuth's optional text fields of a user's profile, stored as given. */
export const PROFILE_FIELDS = ['firstName', 'lastName', 'middleName', 'fullName', 'username', 'mobilePhone', 'birthDate', 'imageUrl', 'timezone'] as const;
export type ProfileField = (typeof PROFILE_FIELDS)[number];

/** Sets (or, for null, removes) one profile field; the username's normalised form follows it. */
export function setProfileField(user: UserRecord, key: ProfileField, value: string | null | undefined): void {
  if (value === undefined) return;
  if (value === null) delete user[key];
  else user[key] = value;
  if (key !== 'username') return;
  if (value === null) delete user.usernameNormalized;
  else user.usernameNormalized = normalizeUsername(value);
}

/** Input for a new user; everything but the email is optional. */
export interface NewUser {
  id?: string;
  email: string;
  firstName?: string;
  lastName?: string;
  middleName?: string;
  fullName?: string;
  username?: string;
  mobilePhone?: string;
  birthDate?: string;
  imageUrl?: string;
  preferredLanguages?: string[];
  timezone?: string;
  data?: Record<string, unknown>;
  active?: boolean;
  verified?: boolean;
  registrations?: { applicationId: string; roles?: string[] }[];
}

function buildRegistration(input: { applicationId: string; roles?: string[] }, now: number): Registration {
  return { id: randomUUID(), applicationId: input.applicationId, roles: [...new Set(input.roles ?? [])], insertInstant: now };
}

/** A complete user record from the fields a caller gives. */
export function buildUser(input: NewUser, now = Date.now()): UserRecord {
  const user: UserRecord = {
    id: input.id ?? randomUUID(),
    email: input.email.trim(),
    emailNormalized: normalizeEmail(input.email),
    preferredLanguages: [...(input.preferredLanguages ?? [])],
    data: { ...(input.data ?? {}) },
    active: input.active ?? true,
    verified: input.verified ?? true,
    registrations: (input.registrations ?? []).map((r) => buildRegistration(r, now)),
    insertInstant: now,
    lastUpdateInstant: now,
  };
  for (const key of PROFILE_FIELDS) setProfileField(user, key, input[key]);
  return user;
}

/** Which identities a login id is compared with (FusionAuth's `loginIdTypes`). */
export type LoginIdType = 'email' | 'username';

/** FusionAuth's order when a caller names none: the email first, then the username. */
export const DEFAULT_LOGIN_ID_TYPES: readonly LoginIdType[] = ['email', 'username'];

/** The user a login id names, trying the identity types in the order given; null when none matches. */
export async function findByLoginId(users: UserRepository, loginId: string, types: readonly LoginIdType[] = DEFAULT_LOGIN_ID_TYPES): Promise<UserRecord | null> {
  for (const type of types) {
    const user = type === 'email' ? await users.findByEmail(normalizeEmail(loginId)) : await users.findByUsername(normalizeUsername(loginId));
    if (user) return user;
  }
  return null;
}

/** The user's registration for a client, if any. */
export function registrationFor(user: UserRecord, clientId: string): Registration | undefined {
  return user.registrations.find((r) => r.applicationId === clientId);
}

/**
 * Applies the development seed: users that do not exist yet (by email) are created,
 * existing ones are left alone, so restarts are harmless.
 */
export async function applyUserSeed(users: UserRepository, seed: readonly SeedUser[]): Promise<number> {
  let created = 0;
  for (const entry of seed) {
    if (await users.findByEmail(normalizeEmail(entry.email))) continue;
    try {
      await users.insert(buildUser(entry));
      created += 1;
    } catch (err) {
      // Another instance seeding at the same moment is fine.
      if (!(err instanceof DuplicateKeyError)) throw err;
    }
  }
  return created;
}

/** Whether the account is past its expiry at `now`. */
export function isExpired(user: UserRecord, now = Date.now()): boolean {
  return user.expiry !== undefined && user.expiry <= now;
}

/**
 * Whether an OIDC session or token issued at `issuedAtSeconds` (node-oidc-provider's `iat` /
 * `loginTs`, whole seconds) still belongs to this user: not issued before the user was created
 * (a session of a deleted user must not pass to a later one given the same id), nor before or in
 * the second the user was last locked. Nothing is issued to a locked user, so the lock's own
 * second can only hold what came just before it; a sign-in in that same second after an unlock
 * is asked to sign in once more.
 */
export function issuedToThisUser(user: UserRecord, issuedAtSeconds: number): boolean {
  if (issuedAtSeconds < Math.floor(user.insertInstant / 1000)) return false;
  return user.lockedAt === undefined || issuedAtSeconds > Math.floor(user.lockedAt / 1000);
}

/** Whether the account may sign in at all: not locked and not expired. */
export function canSignIn(user: UserRecord, now = Date.now()): boolean {
  return user.active && !isExpired(user, now);
}

/**
 * How many times a change is applied to a newer read after another write to the user came
 * first. Each retry means another writer succeeded, so this many concurrent writers of one user
 * all get through; beyond that the caller is told to try again.
 */
const MAX_WRITE_ATTEMPTS = 32;

/**
 * Read-modify-write of one user that loses no concurrent change: `modify` changes the user as
 * read, and the result is stored only if nothing wrote the user since; otherwise it runs again
 * on the newer record. `modify` returns a reason to store nothing (it may run more than once).
 * The user as stored, the reason, or null when there is no such user.
 */
export async function modifyUser<R extends string>(users: UserRepository, id: string, modify: (user: UserRecord) => R | null): Promise<{ user: UserRecord } | { refused: R } | null> {
  for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt += 1) {
    const found = await users.findWithRevision(id);
    if (!found) return null;
    const refused = modify(found.user);
    if (refused !== null) return { refused };
    if (await users.replaceIfUnchanged(found.user, found.revision)) return { user: found.user };
  }
  throw new WriteConflictError(`user ${id} kept changing under ${MAX_WRITE_ATTEMPTS} attempts to write it`);
}
