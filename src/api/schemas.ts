import { z } from 'zod';
import { normalizeUserId } from '../storage/types.js';

/**
 * Request bodies of the REST API. Field names are FusionAuth's; unknown fields are ignored
 * as FusionAuth does. The OpenAPI document is generated from these same schemas.
 */

/** Largest `state`, serialised: it rides along in an email link. */
export const STATE_LIMIT_BYTES = 4096;

const requiredText = (max: number) => z.string().trim().min(1).max(max);

/**
 * An optional field that may also be sent as null, which means "not set" (FusionAuth's reading
 * of null); the parsed value is undefined either way. The OpenAPI document shows null allowed.
 */
const absentIfNull = <T extends z.ZodType>(schema: T) => schema.nullish().transform((value): z.output<T> | undefined => value ?? undefined);

/** An optional field with a default, which null also gets. */
const defaultIfNull = <T extends z.ZodType>(schema: T, fallback: z.core.util.NoUndefined<z.output<T>>) =>
  schema
    .nullable()
    .default(fallback)
    .transform((value): z.output<T> => value ?? fallback);

/** A field of a PATCH that null clears: undefined leaves it as it is. */
const clearable = <T extends z.ZodType>(schema: T) => schema.nullable().optional();

const applicationId = requiredText(255);
const email = z.string().trim().min(1).max(254).pipe(z.email());

const ipAddress = z.union([z.ipv4(), z.ipv6()]);

const state = z
  .record(z.string(), z.unknown())
  .refine((value) => Buffer.byteLength(JSON.stringify(value), 'utf8') <= STATE_LIMIT_BYTES, `state must serialise to at most ${STATE_LIMIT_BYTES} bytes`);

export const startRequest = z.object({
  applicationId,
  loginId: requiredText(254),
  /** FusionAuth's identities to compare loginId with, in order; users here have no phone login, so `phoneNumber` is refused. */
  loginIdTypes: absentIfNull(
    z
      .array(z.enum(['email', 'username'], { error: 'must be email or username (phoneNumber is not supported: users here have no phone login)' }))
      .min(1)
      .max(2)
      .refine((types) => new Set(types).size === types.length, 'must not name a type twice'),
  ),
  state: absentIfNull(state),
  loginStrategy: defaultIfNull(z.enum(['ClickableLink', 'FormField']), 'ClickableLink'),
});

export const sendRequest = z.object({
  code: requiredText(256),
});

/** FusionAuth's deprecated one-call form of /send. */
export const legacySendRequest = startRequest.omit({ loginStrategy: true });

export const loginRequest = z.object({
  code: requiredText(256),
  oneTimeCode: absentIfNull(requiredText(64)),
  applicationId: absentIfNull(applicationId),
  ipAddress: absentIfNull(ipAddress),
  metaData: absentIfNull(
    z.object({
      device: absentIfNull(
        z.object({
          description: absentIfNull(z.string().max(1024)),
          name: absentIfNull(z.string().max(255)),
          type: absentIfNull(z.string().max(64)),
        }),
      ),
    }),
  ),
  noJWT: defaultIfNull(z.boolean(), false),
  twoFactorTrustId: absentIfNull(requiredText(256)),
});

export const twoFactorLoginRequest = z.object({
  twoFactorId: requiredText(256),
  code: requiredText(64),
  trustComputer: defaultIfNull(z.boolean(), false),
  applicationId: absentIfNull(applicationId),
  ipAddress: absentIfNull(ipAddress),
  noJWT: defaultIfNull(z.boolean(), false),
});

/**
 * FusionAuth's enable request; only the authenticator method exists here. The secret comes as
 * `secretBase32Encoded` or, as FusionAuth also takes it, `secret` in base64 (one of them).
 */
export const enableTwoFactorRequest = z
  .object({
    method: z.literal('authenticator'),
    code: requiredText(64),
    secretBase32Encoded: absentIfNull(z.string().trim().min(16).max(128).regex(/^[A-Za-z2-7]+=*$/, 'must be base32')),
    secret: absentIfNull(z.string().trim().min(12).max(128).regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be base64')),
  })
  .refine((value) => value.secretBase32Encoded !== undefined || value.secret !== undefined, { message: 'give secret (base64) or secretBase32Encoded', path: ['secretBase32Encoded'] });

export const disableTwoFactorQuery = z
  .object({ methodId: requiredText(64).optional(), code: requiredText(64).optional() })
  .refine((value) => value.methodId !== undefined || value.code !== undefined, { message: 'give methodId or code', path: ['methodId'] });

export const refreshRequest = z.object({
  refreshToken: requiredText(256),
});

/** FusionAuth's POST /api/logout: the refresh token may also come in the refresh_token cookie. */
export const logoutRequest = z.object({
  refreshToken: absentIfNull(requiredText(256)),
  global: defaultIfNull(z.boolean(), false),
});

/** GET /api/jwt/refresh: the refresh tokens of one user. */
export const listRefreshTokensQuery = z.object({ userId: z.uuid().transform(normalizeUserId) });

/** DELETE /api/jwt/refresh: one token, a user's tokens, an application's, or a user's for an application. */
export const revokeRefreshRequest = z
  .object({ token: absentIfNull(requiredText(256)), userId: absentIfNull(z.uuid().transform(normalizeUserId)), applicationId: absentIfNull(applicationId) })
  .refine((value) => value.token !== undefined || value.userId !== undefined || value.applicationId !== undefined, { message: 'give token, userId or applicationId', path: ['token'] });

const name = z.string().trim().max(200);
const timezone = z.string().trim().min(1).max(100);
const username = z.string().trim().min(1).max(255);
/** A phone number as people write it: an optional +, then digits with spaces, dots, dashes or brackets. */
const mobilePhone = z
  .string()
  .trim()
  .max(40)
  .regex(/^\+?[0-9 ().-]+$/, 'must be a phone number (digits, optionally +, spaces, dots, dashes, brackets)')
  .refine((value) => (value.match(/[0-9]/g) ?? []).length >= 5, 'must have at least 5 digits');
/** FusionAuth's birthDate: YYYY-MM-DD, a real calendar day, not in the future. */
const birthDate = z
  .string()
  .trim()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date as YYYY-MM-DD')
  .refine((value) => {
    const day = new Date(`${value}T00:00:00Z`);
    return !Number.isNaN(day.getTime()) && day.toISOString().startsWith(value) && day.getTime() <= Date.now();
  }, 'must be a real date, not in the future');
const imageUrl = z.url({ protocol: /^https?$/ }).max(2048);
/** ms since the epoch, FusionAuth's `expiry`. */
const expiry = z.number().int().positive();

const userFields = {
  firstName: absentIfNull(name),
  lastName: absentIfNull(name),
  middleName: absentIfNull(name),
  fullName: absentIfNull(name),
  username: absentIfNull(username),
  mobilePhone: absentIfNull(mobilePhone),
  birthDate: absentIfNull(birthDate),
  imageUrl: absentIfNull(imageUrl),
  preferredLanguages: absentIfNull(z.array(z.string().trim().min(1).max(35)).max(20)),
  timezone: absentIfNull(timezone),
  data: absentIfNull(z.record(z.string(), z.unknown())),
  active: absentIfNull(z.boolean()),
  verified: absentIfNull(z.boolean()),
  expiry: absentIfNull(expiry),
};

export const registrationInput = z.object({
  applicationId,
  roles: absentIfNull(z.array(z.string().trim().min(1).max(100)).max(100)),
});

export const createUserRequest = z.object({
  user: z.object({ email, ...userFields }),
  registration: absentIfNull(registrationInput),
});

/** A PATCH changes what it names: null clears a field that may be unset; other nulls change nothing. */
export const patchUserRequest = z.object({
  user: z.object({
    ...userFields,
    email: absentIfNull(email),
    firstName: clearable(name),
    lastName: clearable(name),
    middleName: clearable(name),
    fullName: clearable(name),
    username: clearable(username),
    mobilePhone: clearable(mobilePhone),
    birthDate: clearable(birthDate),
    imageUrl: clearable(imageUrl),
    timezone: clearable(timezone),
    expiry: clearable(expiry),
  }),
});

/** A PUT replaces the user: what it leaves out is removed (see accounts/admin.ts replacementOf). */
export const replaceUserRequest = z.object({
  user: z.object({ email, ...userFields }),
});

export const registerRequest = z.object({
  registration: registrationInput,
});

export const registerNewUserRequest = z.object({
  user: z.object({ email, ...userFields }),
  registration: registrationInput,
});

/** A user id in a path, lower-cased: AAAA… and aaaa… are one user. */
export const userIdParam = z.uuid().transform(normalizeUserId);

/** GET /api/user: by email, by loginId (email or username, as FusionAuth) or by username. */
export const userQuery = z
  .object({ email: absentIfNull(email), loginId: absentIfNull(requiredText(255)), username: absentIfNull(username) })
  .refine((value) => value.email !== undefined || value.loginId !== undefined || value.username !== undefined, { message: 'give email, loginId or username', path: ['email'] });
