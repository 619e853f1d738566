import type { UserRecord } from '../storage/types.js';

/** Standard OIDC claims of a user, by the scope that releases them. */
export function claimsOf(user: UserRecord): { sub: string } & Record<string, unknown> {
  // The name the user gave in full wins; otherwise it is made from the parts, as the API shows it.
  const name = user.fullName ?? [user.firstName, user.middleName, user.lastName].filter(Boolean).join(' ');
  const claims: { sub: string } & Record<string, unknown> = {
    sub: user.id,
    email: user.email,
    email_verified: user.verified,
    updated_at: Math.floor(user.lastUpdateInstant / 1000),
  };
  if (name) claims.name = name;
  if (user.firstName) claims.given_name = user.firstName;
  if (user.lastName) claims.family_name = user.lastName;
  if (user.middleName) claims.middle_name = user.middleName;
  if (user.username) claims.preferred_username = user.username;
  if (user.imageUrl) claims.picture = user.imageUrl;
  if (user.birthDate) claims.birthdate = user.birthDate;
  if (user.mobilePhone) claims.phone_number = user.mobilePhone;
  if (user.preferredLanguages[0]) claims.locale = user.preferredLanguages[0];
  if (user.timezone) claims.zoneinfo = user.timezone;
  return claims;
}

/** Which claims each scope releases (node-oidc-provider's `claims` setting). */
export const scopeClaims = {
  openid: ['sub', 'amr', 'acr'],
  email: ['email', 'email_verified'],
  profile: ['name', 'given_name', 'family_name', 'middle_name', 'preferred_username', 'picture', 'birthdate', 'locale', 'zoneinfo', 'updated_at'],
  phone: ['phone_number'],
} as const;
