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

/** FusionAuth's enable request; only the authenticator method exists here. */
export const enableTwoFactorRequest = z.object({
  method: z.literal('authenticator'),
  code: requiredText(64),
  secretBase32Encoded: z.string().trim().min(16).max(128).regex(/^[A-Za-z2-7]+=*$/, 'must be base32'),
});

export const disableTwoFactorQuery = z
  .object({ methodId: requiredText(64).optional(), code: requiredText(64).optional() })
  .refine((value) => value.methodId !== undefined || value.code !== undefined, { message: 'give methodId or code', path: ['methodId'] });

export const refreshRequest = z.object({
  refreshToken: requiredText(256),
});

const name = z.string().trim().max(200);
const timezone = z.string().trim().min(1).max(100);
/** ms since the epoch, FusionAuth's `expiry`. */
const expiry = z.number().int().positive();

const userFields = {
  firstName: absentIfNull(name),
  lastName: absentIfNull(name),
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
    timezone: clearable(timezone),
    expiry: clearable(expiry),
  }),
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

export const userQuery = z.object({ email });
