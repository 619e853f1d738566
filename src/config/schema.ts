import { z } from 'zod';
import { normalizeUserId } from '../storage/types.js';
import { signUpSettingsSchema } from '../passwordless/sign-up.js';
import { isSenderHeader } from '../events/delivery-headers.js';

/**
 * Shape of the merged configuration. Defaults live only in `config/default.json`;
 * this schema checks what the operator gave and explains what is wrong.
 */

const generatorName = z.enum(['randomBytes', 'randomAlpha', 'randomAlphaNumeric', 'randomDigits']);

/** A code generator and its length (link codes, typed codes); shared with the plugin's options. */
export const codeGenerator = z
  .object({ generator: generatorName, length: z.number().int() })
  .strict()
  .superRefine((value, ctx) => {
    const [min, max] = value.generator === 'randomBytes' ? [16, 128] : [4, 12];
    if (value.length < min || value.length > max) {
      ctx.addIssue({
        code: 'custom',
        path: ['length'],
        message: `${value.generator} takes a length from ${min} to ${max}, got ${value.length}`,
      });
    }
  });

const registration = z
  .object({ applicationId: z.string().min(1), roles: z.array(z.string()).default([]) })
  .strict();

const seedUser = z
  .object({
    id: z.uuid().transform(normalizeUserId).optional(),
    email: z.email(),
    firstName: z.string().max(200).optional(),
    lastName: z.string().max(200).optional(),
    preferredLanguages: z.array(z.string().max(35)).max(20).optional(),
    timezone: z.string().max(100).optional(),
    data: z.record(z.string(), z.unknown()).optional(),
    active: z.boolean().optional(),
    registrations: z.array(registration).optional(),
  })
  .strict();

const client = z
  .object({
    client_id: z.string().min(1),
    redirect_uris: z.array(z.url()).min(1),
    first_party: z.boolean().optional(),
    require_pkce: z.boolean().optional(),
    require_registration: z.boolean().optional(),
    passwordless_enabled: z.boolean().optional(),
    self_service_registration: signUpSettingsSchema.optional(),
    /**
     * How the REST API signs this client's login `token` (FusionAuth's per-application JWT
     * settings). HS256 with a shared secret is FusionAuth's default; ours stays ES256.
     * node-oidc-provider ignores both fields (it keeps only metadata it knows).
     */
    jwt: z
      .object({
        signingAlgorithm: z.enum(['ES256', 'RS256', 'HS256']),
        // 32 characters at least: an HMAC key shorter than the hash's output weakens it (RFC 7518 §3.2).
        secret: z.string().min(32, 'an HS256 secret needs at least 32 characters').optional(),
      })
      .strict()
      .refine((value) => value.signingAlgorithm !== 'HS256' || value.secret !== undefined, { message: 'HS256 needs a secret', path: ['secret'] })
      .optional(),
    /** FusionAuth's refresh token usage policy: OneTimeUse rotates on each refresh (ours by default), Reusable keeps the token. */
    refreshTokenUsagePolicy: z.enum(['OneTimeUse', 'Reusable']).optional(),
    /** Login and refresh answers for this client also set FusionAuth's HttpOnly access_token and refresh_token cookies. */
    tokenCookies: z.boolean().optional(),
  })
  // Any other node-oidc-provider client metadata passes through; the provider validates it.
  .loose();

/** The methods a permission may name (any letter case); `*` is every method, and GET covers HEAD. */
export const API_KEY_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', '*'] as const;

/**
 * An API key's permissions, endpoint path (or `*`) → methods: the same rules for keys in the
 * configuration and keys made by `api-keys create`.
 */
export const apiKeyPermissions = z
  .record(z.string(), z.array(z.string().refine((method) => (API_KEY_METHODS as readonly string[]).includes(method.toUpperCase()), `a method is one of ${API_KEY_METHODS.join(', ')}`)))
  .superRefine((permissions, context) => {
    for (const endpoint of Object.keys(permissions)) {
      if (endpoint !== '*' && !endpoint.startsWith('/api/')) context.addIssue({ code: 'custom', path: [endpoint], message: 'an endpoint is * or a path starting with /api/' });
    }
    // No implicit "all" (FusionAuth's reading of no permissions): a key that grants nothing is a mistake to stop at.
    if (!Object.values(permissions).some((methods) => methods.length > 0)) {
      context.addIssue({ code: 'custom', message: 'the key grants nothing; name its endpoints and methods, e.g. {"/api/passwordless/start": ["POST"]}, or {"*": ["*"]} for everything' });
    }
  });

const apiKey = z
  .object({
    key: z.string().min(16, 'an API key needs at least 16 characters'),
    description: z.string().optional(),
    permissions: apiKeyPermissions,
  })
  .strict();

/** 32 random bytes in base64url (or base64): the AES-256-GCM key that seals TOTP secrets. */
const encryptionKey = z
  .string()
  .refine((value) => /^[A-Za-z0-9_+/-]{43}=?$/.test(value) && Buffer.from(value, 'base64url').length === 32, 'must be 32 random bytes in base64url (43 characters); `keys generate` prints one');

const jwk = z.object({ kty: z.string() }).loose();

/** A key node-oidc-provider signs RS256 with: ID tokens are RS256 unless a client asks for another algorithm. */
function signsRS256(key: z.infer<typeof jwk>): boolean {
  return key.kty === 'RSA' && (key.alg === undefined || key.alg === 'RS256') && (key.use === undefined || key.use === 'sig');
}

const jwks = z
  .object({ keys: z.array(jwk).min(1) })
  .refine((value) => value.keys.some(signsRS256), {
    path: ['keys'],
    message: 'needs one RS256 signing key at least (kty "RSA", alg "RS256" or none): ID tokens are signed with RS256; `keys generate` prints one',
  });

/**
 * An issuer we can serve: an http(s) URL of a host, at its root or under a path of plain
 * segments (`https://example.com/oidc`: discovery, endpoints, pages, cookies and emailed links
 * then all live under /oidc), with no query or fragment.
 */
function isWebIssuer(value: string): boolean {
  // Checked whether or not z.url() passed: it may not parse.
  if (!URL.canParse(value)) return true;
  const url = new URL(value);
  // The raw text's path, as typed: URL folds /./, /.. and /%2e into other paths.
  const rawPath = /^[a-z]+:\/\/[^/]+(\/.*)?$/i.exec(value)?.[1] ?? '/';
  const plainPath = rawPath.replace(/\/+$/, '').split('/').slice(1).every((segment) => /^[A-Za-z0-9_~-][A-Za-z0-9._~-]*$/.test(segment) && !/^\.+$/.test(segment));
  return (url.protocol === 'https:' || url.protocol === 'http:') && url.host !== '' && (rawPath === '/' || plainPath) && !value.includes('?') && !value.includes('#');
}

const ISSUER_RULE = 'must be an http:// or https:// URL of a host, optionally with a path of plain segments, and no query or fragment, such as https://login.example.com or https://example.com/oidc (env ISSUER)';
const issuer = z.url({ error: ISSUER_RULE }).refine(isWebIssuer, ISSUER_RULE);

/**
 * Lifetimes in seconds, by node-oidc-provider's names for its artefacts. Listed, so a misspelt
 * name is refused instead of silently leaving the default in place.
 */
const TTL_NAMES = [
  'AccessToken',
  'AuthorizationCode',
  'BackchannelAuthenticationRequest',
  'ClientCredentials',
  'DeviceCode',
  'Grant',
  'IdToken',
  'Interaction',
  'PreAuthorizedCode',
  'RefreshToken',
  'Session',
] as const;

const lifetime = z.number().int().positive().optional();

const ttl = z.strictObject(
  Object.fromEntries(TTL_NAMES.map((name) => [name, lifetime])) as Record<(typeof TTL_NAMES)[number], typeof lifetime>,
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `unknown ${issue.keys.map((key) => `"${key}"`).join(', ')}; the lifetimes are ${TTL_NAMES.join(', ')}` : undefined,
  },
);

/** A receiver of events: http(s) only (https in production unless `allowInsecureUrl`), never with credentials in the URL. */
const webhook = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_" or "-", at most 64'),
    url: z.url().refine((url) => /^https?:\/\//i.test(url), 'must be an http:// or https:// URL').refine((url) => !URL.canParse(url) || (new URL(url).username === '' && new URL(url).password === ''), 'must not carry credentials; use headers'),
    events: z.array(z.string().regex(/^(\*|[a-z0-9.-]+)$/, 'an event type such as user.login.success, or *')).min(1),
    secret: z.string().min(16, 'a webhook secret needs at least 16 characters'),
    headers: z
      .record(z.string().regex(/^[A-Za-z0-9-]+$/, 'a header name'), z.string().max(4096).regex(/^[\t\x20-\x7e\x80-\xff]*$/, 'a header value without line breaks or control characters'))
      .superRefine((headers, context) => {
        for (const name of Object.keys(headers)) {
          if (isSenderHeader(name)) context.addIssue({ code: 'custom', path: [name], message: 'a header the sender sets itself (framing, content type, user agent, event and signature headers)' });
        }
      })
      .default({}),
    timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
    allowInsecureUrl: z.boolean().default(false),
  })
  .strict();

const rateRule = z.object({ limit: z.number().int().min(1), windowSeconds: z.number().int().min(1).max(86400) }).strict();

export const configSchema = z
  .object({
    port: z.number().int().min(0).max(65535),
    issuer: issuer.nullable(),
    proxy: z.boolean(),
    proxyHops: z.number().int().min(1).max(10),
    allowInsecureIssuer: z.boolean(),
    clients: z.array(client),
    users: z.array(seedUser),
    apiKeys: z.array(apiKey),
    api: z
      .object({
        jwtTimeToLiveInSeconds: z.number().int().min(60).max(86400),
        refreshTokenTimeToLiveInMinutes: z.number().int().min(1).max(525600),
        jwtSigningAlgorithm: z.enum(['ES256', 'RS256']),
        /** The tenant id FusionAuth integrations send in X-FusionAuth-TenantId; null accepts any well-formed id. */
        tenantId: z.uuid().nullable(),
        /** FusionAuth's /oauth2/authorize|token|userinfo|logout|introspect|revoke and /oauth2/passwordless/<code> as aliases. */
        oauth2Paths: z.boolean(),
      })
      .strict(),
    passwordless: z
      .object({
        timeToLiveInSeconds: z.number().int().min(1).max(600),
        linkCode: codeGenerator,
        shortCode: codeGenerator,
        maxAttempts: z.number().int().min(1).max(20),
      })
      .strict(),
    mail: z
      .object({
        from: z.string().min(3),
        replyTo: z.string().nullable(),
        smtpUrl: z.string().regex(/^smtps?:\/\//, 'must start with smtp:// or smtps://').nullable(),
        devMailboxSize: z.number().int().min(1).max(100000),
        defaultLocale: z.string().regex(/^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/, 'must be a language tag such as en or de'),
        smtp: z
          .object({
            pool: z.boolean(),
            maxConnections: z.number().int().min(1).max(100),
            requireTLS: z.boolean(),
            connectionTimeoutMs: z.number().int().min(100).max(300000),
            tls: z
              .object({
                rejectUnauthorized: z.boolean(),
                minVersion: z.enum(['TLSv1.2', 'TLSv1.3']),
                servername: z.string().min(1).nullable(),
              })
              .strict(),
          })
          .strict(),
        retry: z
          .object({
            attempts: z.number().int().min(1).max(10),
            initialDelayMs: z.number().int().min(0).max(60000),
            maxDelayMs: z.number().int().min(0).max(300000),
          })
          .strict(),
      })
      .strict(),
    storage: z
      .object({ mongodbUri: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// URI').nullable() })
      .strict(),
    rateLimits: z
      .object({
        enabled: z.boolean(),
        sendPerAddress: rateRule,
        sendPerIp: rateRule,
        sendGlobal: rateRule,
        typedCodesPerAccount: rateRule,
        wrongCodesPerIp: rateRule,
        wrongCodesGlobal: rateRule,
      })
      .strict(),
    twoFactor: z
      .object({
        issuerName: z.string().min(1).max(100),
        encryptionKey: encryptionKey.nullable(),
        twoFactorIdTimeToLiveInSeconds: z.number().int().min(30).max(3600),
        trustTimeToLiveInSeconds: z.number().int().min(1).max(31_536_000),
        maxAttempts: z.number().int().min(1).max(20),
        wrongCodesPerAccount: rateRule,
      })
      .strict(),
    jwks: jwks.nullable(),
    jwksFile: z.string().min(1).nullable(),
    cookieKeysFile: z.string().min(1).nullable(),
    cookieKeys: z.array(z.string().min(16, 'a cookie key needs at least 16 characters')).min(1).nullable(),
    dataDirectory: z.string().min(1),
    ttl,
    theme: z.string().nullable(),
    demo: z.object({ enabled: z.boolean() }).strict(),
    webhooks: z.array(webhook).max(50).superRefine((hooks, context) => {
      const ids = hooks.map((hook) => hook.id);
      ids.forEach((id, i) => {
        if (ids.indexOf(id) !== i) context.addIssue({ code: 'custom', path: [i, 'id'], message: `webhook id "${id}" is used twice` });
      });
    }),
    events: z
      .object({
        maxAgeHours: z.number().min(0.01).max(720),
        retryInitialMs: z.number().int().min(10).max(600_000),
        retryMaxMs: z.number().int().min(10).max(86_400_000),
        concurrencyPerUrl: z.number().int().min(1).max(64),
        leaseSeconds: z.number().int().min(2).max(3600),
        pollMs: z.number().int().min(10).max(60_000),
        gatherMs: z.number().int().min(0).max(1000),
        retainDays: z.number().min(0).max(90),
      })
      .strict(),
    metrics: z
      .object({
        enabled: z.boolean(),
        token: z.string().min(16, 'a metrics token needs at least 16 characters').nullable(),
        port: z.number().int().min(1).max(65535).nullable(),
        host: z.string().min(1),
        processMetrics: z.boolean(),
      })
      .strict(),
  })
  .strict();

export type Config = z.infer<typeof configSchema> & {
  /** true when NODE_ENV=production. */
  production: boolean;
};
export type ClientConfig = z.infer<typeof client>;
export type SeedUser = z.infer<typeof seedUser>;
export type CodeGeneratorConfig = z.infer<typeof codeGenerator>;
