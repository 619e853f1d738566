import { z } from 'zod';

/**
 * Request bodies of the REST API. Field names are FusionAuth's; unknown fields are ignored
 * as FusionAuth does. The OpenAPI document is generated from these same schemas.
 */

/** Largest `state`, serialised: it rides along in an email link. */
export const STATE_LIMIT_BYTES = 4096;

const requiredText = (max: number) => z.string().trim().min(1).max(max);
const applicationId = requiredText(255);
const email = z.string().trim().min(1).max(254).pipe(z.email());

const state = z
  .record(z.string(), z.unknown())
  .refine((value) => Buffer.byteLength(JSON.stringify(value), 'utf8') <= STATE_LIMIT_BYTES, `state must serialise to at most ${STATE_LIMIT_BYTES} bytes`);

export const startRequest = z.object({
  applicationId,
  loginId: requiredText(254),
  state: state.optional(),
  loginStrategy: z.enum(['ClickableLink', 'FormField']).default('ClickableLink'),
});

export const sendRequest = z.object({
  code: requiredText(256),
});

/** FusionAuth's deprecated one-call form of /send. */
export const legacySendRequest = startRequest.omit({ loginStrategy: true });

export const loginRequest = z.object({
  code: requiredText(256),
  oneTimeCode: requiredText(64).optional(),
  applicationId: applicationId.optional(),
  ipAddress: z.union([z.ipv4(), z.ipv6()]).optional(),
  metaData: z
    .object({
      device: z
        .object({
          description: z.string().max(1024).optional(),
          name: z.string().max(255).optional(),
          type: z.string().max(64).optional(),
        })
        .optional(),
    })
    .optional(),
  noJWT: z.boolean().default(false),
  twoFactorTrustId: requiredText(256).optional(),
});

export const twoFactorLoginRequest = z.object({
  twoFactorId: requiredText(256),
  code: requiredText(64),
  trustComputer: z.boolean().default(false),
  applicationId: applicationId.optional(),
  ipAddress: z.union([z.ipv4(), z.ipv6()]).optional(),
  noJWT: z.boolean().default(false),
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

const userFields = {
  firstName: z.string().trim().max(200).optional(),
  lastName: z.string().trim().max(200).optional(),
  preferredLanguages: z.array(z.string().trim().min(1).max(35)).max(20).optional(),
  timezone: z.string().trim().min(1).max(100).optional(),
  data: z.record(z.string(), z.unknown()).optional(),
  active: z.boolean().optional(),
  verified: z.boolean().optional(),
  /** ms since the epoch, FusionAuth's `expiry`. */
  expiry: z.number().int().positive().optional(),
};

export const registrationInput = z.object({
  applicationId,
  roles: z.array(z.string().trim().min(1).max(100)).max(100).default([]),
});

export const createUserRequest = z.object({
  user: z.object({ email, ...userFields }),
  registration: registrationInput.optional(),
});

export const patchUserRequest = z.object({
  user: z.object({ email: email.optional(), ...userFields }),
});

export const registerRequest = z.object({
  registration: registrationInput,
});

export const registerNewUserRequest = z.object({
  user: z.object({ email, ...userFields }),
  registration: registrationInput,
});

export const userIdParam = z.uuid();

export const userQuery = z.object({ email });
