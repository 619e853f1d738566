import { z } from 'zod';
import { disableTwoFactorQuery, enableTwoFactorRequest, twoFactorLoginRequest, createUserRequest, legacySendRequest, loginRequest, patchUserRequest, refreshRequest, registerNewUserRequest, registerRequest, replaceUserRequest, revokeRefreshRequest, sendRequest, startRequest, logoutRequest, listRefreshTokensQuery } from './schemas.js';
import { WEBHOOK_DELIVERY_STATUSES } from '../storage/types.js';

/**
 * The OpenAPI 3.1 description of the REST API. Request bodies are generated from the zod
 * schemas that validate them, so the document cannot drift from what the server accepts; a
 * test checks that its paths and methods are exactly the router's.
 */

type Json = Record<string, unknown>;

const schemaOf = (schema: z.ZodType): Json => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Json;

const jsonBody = (schema: z.ZodType): Json => ({ required: true, content: { 'application/json': { schema: schemaOf(schema) } } });
const jsonResponse = (description: string, ref: string): Json => ({ description, content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } } });
const emptyResponse = (description: string): Json => ({ description });
const errors = (extra: Json = {}): Json => ({
  '400': jsonResponse('Validation failure, malformed JSON or wrong content type', 'Errors'),
  '413': jsonResponse('Body larger than 64 KiB', 'Errors'),
  ...extra,
});
const retryAfter = { 'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer' } } };
/** A 429 or 503: the error shape and a Retry-After header. */
const tryLater = (description: string): Json => ({ ...jsonResponse(description, 'Errors'), headers: retryAfter });
const conflict = { '409': jsonResponse('The user was being changed by other requests at the same time; try again', 'Errors') };
const keyed = { security: [{ apiKey: [] }] };
const unauthorized = { '401': emptyResponse('Missing, unknown or insufficient API key (empty body)') };
const userIdParameter = { name: 'userId', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const userAnswer = jsonResponse('The user', 'UserResponse');

const loginAnswers: Json = {
  '200': jsonResponse('Logged in and registered for the application', 'LoginResponse'),
  '202': jsonResponse('Logged in, not registered for the application', 'LoginResponse'),
  '242': jsonResponse('Second factor required', 'TwoFactorResponse'),
  '404': emptyResponse('Code unknown, expired, already used or superseded'),
  '409': jsonResponse('Login prevented by the application', 'Errors'),
  '410': emptyResponse('User expired'),
  '423': emptyResponse('User locked'),
  '429': tryLater('Too many wrong one-time codes for this account, from this client address, or overall'),
};

const components: Json = {
  securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'Authorization', description: 'The raw key, or `Bearer <key>`.' } },
  schemas: {
    Errors: {
      type: 'object',
      properties: {
        fieldErrors: { type: 'object', additionalProperties: { type: 'array', items: { $ref: '#/components/schemas/Error' } } },
        generalErrors: { type: 'array', items: { $ref: '#/components/schemas/Error' } },
      },
    },
    Error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string', examples: ['[blank]loginId'] }, message: { type: 'string' } } },
    Registration: {
      type: 'object',
      properties: { id: { type: 'string' }, applicationId: { type: 'string' }, roles: { type: 'array', items: { type: 'string' } }, insertInstant: { type: 'integer' }, lastLoginInstant: { type: 'integer' }, verified: { type: 'boolean' } },
    },
    User: {
      type: 'object',
      properties: {
        id: { type: 'string', format: 'uuid' },
        email: { type: 'string' },
        username: { type: 'string', description: 'Unique whatever its case' },
        firstName: { type: 'string' },
        middleName: { type: 'string' },
        lastName: { type: 'string' },
        fullName: { type: 'string', description: 'As given; else made from firstName, middleName and lastName' },
        mobilePhone: { type: 'string' },
        birthDate: { type: 'string', format: 'date', description: 'YYYY-MM-DD' },
        imageUrl: { type: 'string', format: 'uri' },
        verified: { type: 'boolean' },
        active: { type: 'boolean' },
        preferredLanguages: { type: 'array', items: { type: 'string' } },
        timezone: { type: 'string' },
        data: { type: 'object' },
        registrations: { type: 'array', items: { $ref: '#/components/schemas/Registration' } },
        insertInstant: { type: 'integer' },
        lastUpdateInstant: { type: 'integer' },
        lastLoginInstant: { type: 'integer' },
        expiry: { type: 'integer' },
        twoFactor: { type: 'object', properties: { methods: { type: 'array', items: { type: 'object' } } } },
      },
    },
    UserResponse: { type: 'object', properties: { user: { $ref: '#/components/schemas/User' }, registration: { $ref: '#/components/schemas/Registration' } } },
    StartResponse: { type: 'object', required: ['code'], properties: { code: { type: 'string' }, oneTimeCode: { type: 'string' } } },
    LoginResponse: {
      type: 'object',
      properties: {
        token: { type: 'string', description: 'JWT signed with the provider keys (verify against jwks_uri)' },
        tokenExpirationInstant: { type: 'integer' },
        refreshToken: { type: 'string' },
        refreshTokenId: { type: 'string' },
        user: { $ref: '#/components/schemas/User' },
        state: { type: 'object' },
      },
    },
    TwoFactorResponse: { type: 'object', properties: { twoFactorId: { type: 'string' }, methods: { type: 'array', items: { type: 'object' } }, state: { type: 'object' } } },
    TwoFactorSecret: { type: 'object', properties: { secret: { type: 'string' }, secretBase32Encoded: { type: 'string' } } },
    RecoveryCodes: { type: 'object', properties: { recoveryCodes: { type: 'array', items: { type: 'string' } } } },
    ValidateResponse: { type: 'object', required: ['jwt'], properties: { jwt: { type: 'object', description: 'The claims of the JWT (iss, sub, aud, exp, iat, applicationId, roles, email…)' } } },
    PublicKeyResponse: {
      type: 'object',
      properties: {
        publicKey: { type: 'string', description: 'PEM (SubjectPublicKeyInfo); with applicationId or keyId' },
        publicKeys: { type: 'object', additionalProperties: { type: 'string' }, description: 'kid → PEM; without parameters' },
      },
    },
    RefreshTokens: {
      type: 'object',
      properties: {
        refreshTokens: {
          type: 'array',
          items: { type: 'object', properties: { id: { type: 'string' }, applicationId: { type: 'string' }, userId: { type: 'string' }, insertInstant: { type: 'integer' }, startInstant: { type: 'integer' }, expirationInstant: { type: 'integer' } } },
        },
      },
    },
    RefreshResponse: { type: 'object', properties: { token: { type: 'string' }, tokenExpirationInstant: { type: 'integer' }, refreshToken: { type: 'string' }, refreshTokenId: { type: 'string' } } },
  },
};

/** The calls that read no database: the document itself, and the JWT checks, which need only keys held in memory. */
export const DATABASE_FREE_PATHS: readonly string[] = ['/api/openapi.json', '/api/jwt/validate', '/api/jwt/public-key'];

/** Every other call reads the database (an API key, a code, a user), so any may answer 503 while it is down. */
function withUnavailable(paths: Record<string, Record<string, Json & { responses: Json }>>): Json {
  for (const [path, operations] of Object.entries(paths)) {
    if (DATABASE_FREE_PATHS.includes(path)) continue;
    for (const operation of Object.values(operations)) operation.responses['503'] = tryLater('The database is unavailable (for /send: or the mail server); try again shortly');
  }
  return paths;
}

/** The document served at GET /api/openapi.json. */
export function openApiDocument(issuer: string): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'oidc-magic-link REST API',
      version: '1',
      description:
        'FusionAuth-compatible passwordless login and user API. Every call may carry X-FusionAuth-TenantId: with api.tenantId configured, another id (or one that is no UUID) answers 400 [invalid]tenantId before anything else happens.',
    },
    servers: [{ url: issuer }],
    components,
    paths: withUnavailable({
      '/api/passwordless/start': {
        post: { summary: 'Start a passwordless login (issue a code)', ...keyed, requestBody: jsonBody(startRequest), responses: { '200': jsonResponse('The code', 'StartResponse'), ...errors(unauthorized), '404': emptyResponse('No such user') } },
      },
      '/api/passwordless/send': {
        post: {
          summary: 'Email the link (and one-time code) of a started login; a FormField code gets its one-time code alone, no link',
          description: 'The deprecated form { applicationId, loginId, state } starts and sends in one call; it needs an API key allowed POST /api/passwordless/start. One code is emailed at most 3 times; a fourth send answers 400 [exhausted]code (start a new code). A send the mail server could not take for an outage counts against no limit.',
          requestBody: { required: true, content: { 'application/json': { schema: { oneOf: [schemaOf(sendRequest), schemaOf(legacySendRequest)] } } } },
          responses: { '200': emptyResponse('Sent'), ...errors({ '401': emptyResponse('Deprecated form without a key allowed to start logins'), '429': tryLater('Too many emails went to this address, or overall') }) },
        },
      },
      '/api/passwordless/login': {
        post: {
          summary: 'Complete a passwordless login with a code',
          description: 'A code logs in only to the application it was started for (another applicationId answers 404). A FormField code needs its oneTimeCode: without it the login answers 404 and counts as a wrong guess. Wrong one-time codes are limited per account, per client address (ipAddress, else the caller; IPv6 by /64) and overall: 429 with Retry-After. The trust id of a trusted device may also come in the fusionauth.trust cookie (it wins over twoFactorTrustId). For a client configured with tokenCookies, the answer also sets HttpOnly access_token and refresh_token cookies.',
          requestBody: jsonBody(loginRequest),
          responses: { ...loginAnswers, ...errors() },
        },
      },
      '/api/jwt/refresh': {
        post: {
          summary: "Exchange a refresh token for a new JWT (the refresh token rotates, unless the application's refreshTokenUsagePolicy is Reusable)",
          description: 'The token comes in the body or in the refresh_token cookie (the cookie wins). Under OneTimeUse (the default) a new refreshToken and refreshTokenId come back and the old token is spent; a token used again after it was rotated also revokes every token rotated from the same login. Under Reusable the same refreshToken and refreshTokenId come back.',
          requestBody: { ...jsonBody(refreshRequest), required: false },
          responses: { '200': jsonResponse('New tokens', 'RefreshResponse'), ...errors(), '400': jsonResponse('[blank]refreshToken; [invalid]refreshToken: unknown, expired, revoked or used, or its user can no longer sign in; malformed JSON', 'Errors') },
        },
        get: {
          summary: "A user's usable refresh tokens (ids and instants; the token values are never kept)",
          ...keyed,
          parameters: Object.keys(schemaOf(listRefreshTokensQuery).properties as Json).map((name) => ({ name, in: 'query', required: true, schema: { type: 'string', format: 'uuid' } })),
          responses: { '200': jsonResponse('{ refreshTokens: [{ id, applicationId, userId, insertInstant, startInstant, expirationInstant }] }', 'RefreshTokens'), ...errors(unauthorized) },
        },
        delete: {
          summary: 'Revoke refresh tokens: one (token), a user\'s (userId), an application\'s (applicationId), or a user\'s for an application (both)',
          ...keyed,
          parameters: Object.keys(schemaOf(revokeRefreshRequest).properties as Json).map((name) => ({ name, in: 'query', required: false, schema: { type: 'string' } })),
          responses: { '200': emptyResponse('Revoked (also when there was none to revoke for a user or application)'), '404': emptyResponse('token given, and no such refresh token'), ...errors(unauthorized) },
        },
      },
      '/api/jwt/validate': {
        get: {
          summary: 'Validate a JWT this server issued and return its claims',
          description: 'The JWT comes in `Authorization: Bearer <jwt>` (or `JWT <jwt>`), else in the `access_token` cookie. No API key. ES256/RS256 tokens verify with the public keys, HS256 tokens with the secret of the application they name.',
          responses: { '200': jsonResponse('Valid', 'ValidateResponse'), '401': emptyResponse('No JWT, or it is malformed, wrongly signed, of another issuer or expired (empty body)') },
        },
      },
      '/api/jwt/public-key': {
        get: {
          summary: 'The public keys that verify JWTs: all of them, the one of an application, or the one with a kid',
          description: 'No API key. An application whose tokens are HS256 has no public key (404).',
          parameters: [
            { name: 'applicationId', in: 'query', required: false, schema: { type: 'string' } },
            { name: 'keyId', in: 'query', required: false, schema: { type: 'string' } },
          ],
          responses: { '200': jsonResponse('publicKey (with a parameter) or publicKeys (without)', 'PublicKeyResponse'), '404': emptyResponse('Unknown application or key id, or an HS256 application') },
        },
      },
      '/api/user': {
        post: { summary: 'Create a user', ...keyed, requestBody: jsonBody(createUserRequest), responses: { '200': userAnswer, ...errors(unauthorized) } },
        get: {
          summary: 'Find a user by email, by loginId (an email, else a username) or by username (give one)',
          ...keyed,
          parameters: ['email', 'loginId', 'username'].map((name) => ({ name, in: 'query', required: false, schema: { type: 'string' } })),
          responses: { '200': userAnswer, '404': emptyResponse('No such user'), ...errors(unauthorized) },
        },
      },
      '/api/user/{userId}': {
        post: { summary: 'Create a user with this id', ...keyed, parameters: [userIdParameter], requestBody: jsonBody(createUserRequest), responses: { '200': userAnswer, ...errors(unauthorized) } },
        get: { summary: 'Read a user', ...keyed, parameters: [userIdParameter], responses: { '200': userAnswer, '404': emptyResponse('No such user'), ...unauthorized } },
        put: {
          summary: 'Replace a user: fields left out are removed (registrations, active and verified stay unless given); with reactivate=true, reactivate a deactivated user',
          description: 'A password is refused with 400 [invalid]user.password: users of this server have none. With ?reactivate=true no body is read: the user becomes active again.',
          ...keyed,
          parameters: [userIdParameter, { name: 'reactivate', in: 'query', required: false, schema: { type: 'boolean' } }],
          requestBody: { ...jsonBody(replaceUserRequest), required: false },
          responses: { '200': userAnswer, '404': emptyResponse('No such user'), ...conflict, ...errors(unauthorized) },
        },
        patch: { summary: 'Change a user (names, data, active = lock/unlock…)', ...keyed, parameters: [userIdParameter], requestBody: jsonBody(patchUserRequest), responses: { '200': userAnswer, '404': emptyResponse('No such user'), ...conflict, ...errors(unauthorized) } },
        delete: {
          summary: 'Deactivate a user (kept, active false, no sign-in, refresh tokens revoked); with hardDelete=true, delete it and everything kept for it',
          ...keyed,
          parameters: [userIdParameter, { name: 'hardDelete', in: 'query', required: false, schema: { type: 'boolean' } }],
          responses: { '200': emptyResponse('Deactivated, or deleted'), '404': emptyResponse('No such user'), ...unauthorized },
        },
      },
      '/api/user/registration': {
        post: { summary: 'Create a user and register it to an application', ...keyed, requestBody: jsonBody(registerNewUserRequest), responses: { '200': userAnswer, ...errors(unauthorized) } },
      },
      '/api/user/registration/{userId}/{applicationId}': {
        get: {
          summary: "A user's registration for one application",
          ...keyed,
          parameters: [userIdParameter, { name: 'applicationId', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': jsonResponse('{ registration }', 'UserResponse'), '404': emptyResponse('No such user, or not registered to that application'), ...unauthorized },
        },
      },
      '/api/webhook/attempts': {
        get: {
          summary: 'Webhook deliveries, newest first: pending, delivered and failed, with their tries',
          description: 'See docs/webhooks.md. Each item: eventId, eventType, webhookId, status, attempts, createInstant, nextAttemptInstant (pending only), lastStatusCode, lastError, settledInstant.',
          ...keyed,
          parameters: [
            { name: 'status', in: 'query', required: false, schema: { type: 'string', enum: [...WEBHOOK_DELIVERY_STATUSES] } },
            { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
          ],
          responses: { '200': { description: '{ attempts: [...] }', content: { 'application/json': { schema: { type: 'object', properties: { attempts: { type: 'array', items: { type: 'object' } } } } } } }, ...errors(unauthorized) },
        },
      },
      '/api/logout': {
        post: {
          summary: 'Log out: revoke the refresh token (with global, every token of its user) and clear the access_token and refresh_token cookies',
          description: 'No API key: the refresh token (in the body or the refresh_token cookie, which wins) is the proof. 200 whether or not the token was known.',
          requestBody: { ...jsonBody(logoutRequest), required: false },
          responses: { '200': emptyResponse('Logged out (Set-Cookie clears both token cookies)'), ...errors() },
        },
      },
      '/api/user/registration/{userId}': {
        post: { summary: 'Register an existing user to an application', ...keyed, parameters: [userIdParameter], requestBody: jsonBody(registerRequest), responses: { '200': userAnswer, '404': emptyResponse('No such user'), ...conflict, ...errors(unauthorized) } },
      },
      '/api/two-factor/secret': {
        get: { summary: 'A new TOTP secret to enrol an authenticator with', ...keyed, responses: { '200': jsonResponse('The secret (base64 and base32)', 'TwoFactorSecret'), ...unauthorized } },
      },
      '/api/two-factor/login': {
        post: {
          summary: 'Complete a login that answered 242 with its second factor (TOTP or recovery code)',
          requestBody: jsonBody(twoFactorLoginRequest),
          responses: {
            '200': jsonResponse('Logged in (plus twoFactorTrustId when trustComputer was true)', 'LoginResponse'),
            '202': jsonResponse('Logged in, not registered for the application', 'LoginResponse'),
            '404': emptyResponse('twoFactorId unknown, expired, used or void after too many wrong codes'),
            '421': emptyResponse('Wrong code'),
            '409': jsonResponse('Login prevented by the application', 'Errors'),
            '410': emptyResponse('User expired'),
            '423': emptyResponse('User locked'),
            ...errors(),
          },
        },
      },
      '/api/user/two-factor/{userId}': {
        post: { summary: 'Enable an authenticator for a user (proved with a current code)', ...keyed, parameters: [userIdParameter], requestBody: jsonBody(enableTwoFactorRequest), responses: { '200': jsonResponse('The recovery codes, shown this once', 'RecoveryCodes'), '404': emptyResponse('No such user'), ...errors(unauthorized) } },
        delete: {
          summary: "Disable the user's authenticator (revokes every trusted device)",
          ...keyed,
          parameters: [userIdParameter, ...Object.keys(schemaOf(disableTwoFactorQuery).properties as Json).map((name) => ({ name, in: 'query', required: false, schema: { type: 'string' } }))],
          responses: { '200': emptyResponse('Disabled'), '404': emptyResponse('No such user, or no authenticator'), ...errors(unauthorized) },
        },
      },
      '/api/openapi.json': {
        get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } } } },
      },
    }),
  };
}
