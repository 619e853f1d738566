import type { Registration, UserRecord } from '../storage/types.js';

/** A registration as FusionAuth shows it. */
export function registrationJson(registration: Registration): Record<string, unknown> {
  return {
    id: registration.id,
    applicationId: registration.applicationId,
    roles: [...registration.roles],
    insertInstant: registration.insertInstant,
    ...(registration.lastLoginInstant !== undefined ? { lastLoginInstant: registration.lastLoginInstant } : {}),
    verified: true,
  };
}

/** A user as FusionAuth's `user` object shows it (the fields this server has). */
export function userJson(user: UserRecord): Record<string, unknown> {
  // A fullName given is kept as given; otherwise it is made from the names, as before it was stored.
  const fullName = user.fullName ?? [user.firstName, user.middleName, user.lastName].filter(Boolean).join(' ');
  return {
    id: user.id,
    email: user.email,
    ...(user.username !== undefined ? { username: user.username } : {}),
    ...(user.firstName !== undefined ? { firstName: user.firstName } : {}),
    ...(user.middleName !== undefined ? { middleName: user.middleName } : {}),
    ...(user.lastName !== undefined ? { lastName: user.lastName } : {}),
    ...(fullName ? { fullName } : {}),
    ...(user.mobilePhone !== undefined ? { mobilePhone: user.mobilePhone } : {}),
    ...(user.birthDate !== undefined ? { birthDate: user.birthDate } : {}),
    ...(user.imageUrl !== undefined ? { imageUrl: user.imageUrl } : {}),
    verified: user.verified,
    active: user.active,
    preferredLanguages: [...user.preferredLanguages],
    ...(user.timezone !== undefined ? { timezone: user.timezone } : {}),
    data: { ...user.data },
    registrations: user.registrations.map(registrationJson),
    insertInstant: user.insertInstant,
    lastUpdateInstant: user.lastUpdateInstant,
    ...(user.lastLoginInstant !== undefined ? { lastLoginInstant: user.lastLoginInstant } : {}),
    ...(user.expiry !== undefined ? { expiry: user.expiry } : {}),
    // FusionAuth's shape; the secrets are never part of it.
    twoFactor: { methods: (user.twoFactor?.methods ?? []).map((m) => ({ id: m.id, method: m.method, authenticator: { ...m.authenticator } })) },
  };
}
