import { z } from 'zod';
import { codeGenerator } from '../config/schema.js';
import type { CodeRepository, CounterRepository } from '../storage/types.js';

/**
 * The options of {@link magicLink}: every one typed and documented with its default here, the
 * one place the plugin's defaults live. `validateOptions` checks them at construction and names
 * the bad option in its error.
 */

/** A client a sign-in is for, as the plugin's account callbacks see it. */
export interface MagicLinkClient {
  clientId: string;
  /** `client_name`, or the client id when it has none. */
  name: string;
  /** The client's whole registered metadata (your own extra fields included). */
  metadata: Readonly<Record<string, unknown>>;
}

/** Who receives a sign-in link. Only `accountId` and `email` are required. */
export interface MagicLinkAccount {
  /** The account's id: node-oidc-provider's `accountId` (your `findAccount` is asked for it). */
  accountId: string;
  /** Where the link goes. */
  email: string;
  /** Greeting in the email ("Hello Ada"). Default: none, a plain greeting. */
  firstName?: string;
  /** With `firstName`, the display name of the To header. Default: none. */
  lastName?: string;
  /** The account's languages, strongest first; they choose the email's language after `ui_locales`. Default: []. */
  locales?: readonly string[];
  /** IANA time zone in which the email states the link's expiry. Default: UTC. */
  timezone?: string;
}

/** What a host's `mail.send` receives: the rendered email and its raw parts. */
export interface MagicLinkMessage {
  to: string;
  /** Display name for the To header, when the account has one. */
  toName?: string;
  subject: string;
  html: string;
  text: string;
  /** BCP 47 tag of the text (the email's language). */
  language?: string;
  /** The raw parts, for a host that composes its own email. */
  parts?: MagicLinkMessageParts;
}

export interface MagicLinkMessageParts {
  /** The link to open (a bearer secret until used or expired). */
  link: string;
  /** The short code to type, when one was issued. */
  code: string | null;
  expiresAt: Date;
  /** The locale the email was rendered in. */
  locale: string;
  client: { id: string | null; name: string };
  /** The account signed in by the link; null for a sign-up email (the account does not exist yet). */
  accountId: string | null;
  /** A "create your account" email (see `createAccount`) rather than a sign-in link. */
  signUp: boolean;
}

/** A nodemailer transport (or anything with its `sendMail`). */
export interface MailTransporterLike {
  sendMail(message: Record<string, unknown>): Promise<unknown>;
  close?(): void;
}

export interface MagicLinkMailOptions {
  /** The From header. Required with `smtpUrl` or `transport`. */
  from?: string;
  /** Reply-To header. Default: none. */
  replyTo?: string;
  /** smtp:// or smtps:// URL (credentials in it); nodemailer sends through it, pooled. */
  smtpUrl?: string;
  /** Your own nodemailer transport. */
  transport?: MailTransporterLike;
  /**
   * Your own sender (an HTTP mail API): gets the rendered message and its raw parts, and resolves
   * once the mail is handed over. A rejection fails the email; it is tried again (see `retry`)
   * when the error says the failure is passing: a `responseCode` of 400–499 (as SMTP's 4xx), or a
   * network `code` such as ECONNRESET, ETIMEDOUT or ECONNREFUSED.
   */
  send?: (message: MagicLinkMessage) => Promise<void>;
  /**
   * Tries of a failed hand-over: `attempts` in all (default 3), waiting `initialDelayMs`
   * (default 500) and twice as long each time, at most `maxDelayMs` (default 5000). Only
   * passing failures (no connection, timeouts, 4xx replies) are tried again.
   */
  retry?: { attempts?: number; initialDelayMs?: number; maxDelayMs?: number };
}

/** The plugin's own state: codes and rate-limit counters. Memory by default; `mongoMagicLinkStore(db)` for MongoDB. */
export interface MagicLinkStore {
  codes: CodeRepository;
  counters: CounterRepository;
}

/**
 * The hosted second factor (TOTP after the magic link). Give `secretOf` and the plugin checks
 * RFC 6238 codes itself (SHA-1, 6 digits, 30 s, ±1 step, each step once); or give `isEnrolled`
 * and `verify` to check codes your own way.
 */
export type MagicLinkSecondFactor =
  | {
      /** The account's base32 TOTP secret, or undefined when it has no authenticator. */
      secretOf(accountId: string): Promise<string | undefined | null>;
    }
  | {
      isEnrolled(accountId: string): Promise<boolean>;
      /** 'otp' or 'recovery_code' for a right answer, 'wrong', or 'limited' (too many tries of late). */
      verify(accountId: string, code: string): Promise<'otp' | 'recovery_code' | 'wrong' | 'limited'>;
      /** Remembers a device the user chose to trust; returns its id (the trust cookie's value). Default: kept in the plugin's store. */
      trustDevice?(accountId: string): Promise<string>;
      /** Whether `trustId` is a live trust of this account. Default: read from the plugin's store. */
      isTrusted?(accountId: string, trustId: string): Promise<boolean>;
    };

export interface MagicLinkOptions {
  /**
   * Required. The account a link for `email` goes to, when that account may sign in to
   * `context.client` this way; undefined or null sends nothing (the page looks the same).
   */
  findAccountByEmail(email: string, context: { client: MagicLinkClient }): Promise<MagicLinkAccount | undefined | null>;
  /**
   * Asked again when a link or code is redeemed, and for a fresh link: undefined or null when the
   * account may no longer sign in to the client (deleted, locked). Default: the account the link
   * was sent to is trusted until the code expires (no second look), and an expired link's page
   * sends no fresh link (the address is not kept to send it to).
   */
  findAccountById?(accountId: string, context: { client: MagicLinkClient }): Promise<MagicLinkAccount | undefined | null>;
  /** Told of every magic-link sign-in (e.g. to record the last login); `sign_up` right after {@link createAccount}. Default: nothing. */
  onSignIn?(account: { accountId: string }, context: { client: MagicLinkClient; method: 'magic_link' | 'typed_code' | 'magic_link_cross_device' | 'sign_up' }): Promise<void> | void;
  /**
   * Sign-up with a magic link. On a client whose metadata has `self_service_registration`
   * (`true`, or `{ enabled, fields, terms_url, default_roles }`; list it in node-oidc-provider's
   * `extraClientMetadata.properties`), an address `findAccountByEmail` does not know gets a
   * "create your account" email; opening it shows a short form, and sending the form calls this
   * with the verified address, the form's fields and the client's `default_roles`. Return the new
   * account, or the existing one if the address got an account meanwhile (the sign-in then
   * continues as that account, if `findAccountById` still lets it in). Default: none (an unknown
   * address gets no email).
   */
  createAccount?(input: { email: string; fields: Partial<Record<'firstName' | 'lastName' | 'fullName' | 'middleName', string>>; roles: string[] }, context: { client: MagicLinkClient }): Promise<MagicLinkAccount>;
  /** Required. How the email leaves: exactly one of `smtpUrl`, `transport` or `send`. */
  mail: MagicLinkMailOptions;
  /** Codes and counters. Default: in process memory (one process only; state lost on restart). */
  store?: MagicLinkStore;
  /** The second factor. Default: none (sign-in ends with the magic link). */
  secondFactor?: MagicLinkSecondFactor;
  /**
   * Secrets that sign the plugin's form tokens and trust cookie, newest first. Default: the
   * provider's `cookies.keys` (read by `mount`); a random key per process when it has none.
   */
  keys?: readonly string[];
  /** Link and code lifetime in seconds, 1–600. Default 180. */
  timeToLiveInSeconds?: number;
  /** Wrong typed codes before a code is void, 1–20. Default 5. */
  maxAttempts?: number;
  /**
   * The typed code: `randomDigits` (default, length 6), `randomAlpha` or `randomAlphaNumeric`
   * (length 4–12), or `randomBytes` (16–128 bytes, base64url).
   */
  shortCode?: { generator: 'randomDigits' | 'randomAlpha' | 'randomAlphaNumeric' | 'randomBytes'; length: number };
  /** The link's secret in random bytes, 16–128. Default 32. */
  linkCodeBytes?: number;
  /**
   * Limits kept in the store (fixed windows): emails per address (default 5 / 900 s), per client
   * IP (30 / 900 s) and in all (1000 / 60 s); wrong typed codes per address and account
   * (20 / 3600 s), per client IP (50 / 3600 s) and in all (10000 / 3600 s). An IPv6 client counts
   * by its /64. `enabled: false` turns them off (load tests). Each rule is `{ limit, windowSeconds }`.
   */
  rateLimits?: {
    enabled?: boolean;
    sendPerAddress?: RateRuleOption;
    sendPerIp?: RateRuleOption;
    sendGlobal?: RateRuleOption;
    typedCodesPerAccount?: RateRuleOption;
    wrongCodesPerIp?: RateRuleOption;
    wrongCodesGlobal?: RateRuleOption;
  };
  /** Wrong second-factor codes before a sign-in's step is void, 1–20. Default 5. */
  secondFactorMaxAttempts?: number;
  /** How long "trust this device" skips the second factor, in seconds. Default 2592000 (30 days). */
  trustTimeToLiveInSeconds?: number;
  /** A folder whose `pages/`, `email/`, `partials/`, `static/` and `locales/` files override ours by relative path. Default: none. */
  theme?: string;
  /** Language of pages and emails when nothing better is known (one we ship or the theme adds). Default 'en'. */
  defaultLocale?: string;
  /** Lifetime of node-oidc-provider's interactions, in seconds: how long a code record is kept to explain a late click. Default 3600. */
  interactionTimeToLiveInSeconds?: number;
}

export interface RateRuleOption {
  limit: number;
  windowSeconds: number;
}

/** Every default, in one place (see the JSDoc of each option). */
export const DEFAULTS = {
  timeToLiveInSeconds: 180,
  maxAttempts: 5,
  shortCode: { generator: 'randomDigits', length: 6 },
  linkCodeBytes: 32,
  rateLimits: {
    enabled: true,
    sendPerAddress: { limit: 5, windowSeconds: 900 },
    sendPerIp: { limit: 30, windowSeconds: 900 },
    sendGlobal: { limit: 1000, windowSeconds: 60 },
    typedCodesPerAccount: { limit: 20, windowSeconds: 3600 },
    wrongCodesPerIp: { limit: 50, windowSeconds: 3600 },
    wrongCodesGlobal: { limit: 10000, windowSeconds: 3600 },
  },
  secondFactorMaxAttempts: 5,
  trustTimeToLiveInSeconds: 2_592_000,
  defaultLocale: 'en',
  interactionTimeToLiveInSeconds: 3600,
  mailRetry: { attempts: 3, initialDelayMs: 500, maxDelayMs: 5000 },
} as const;

/** A bad option: `option` names it (`mail.from`, `rateLimits.sendPerIp.limit`). */
export class MagicLinkOptionsError extends TypeError {
  readonly code = 'invalid_option';
  constructor(
    readonly option: string,
    reason: string,
  ) {
    super(`oidc-magic-link: option ${option} ${reason}`);
  }
}

const fn = z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', 'must be a function');
const rateRule = z.strictObject({ limit: z.number().int().min(1), windowSeconds: z.number().int().min(1).max(86400) });

const mailSchema = z
  .strictObject({
    from: z.string().min(3).optional(),
    replyTo: z.string().min(3).optional(),
    smtpUrl: z.string().regex(/^smtps?:\/\//, 'must start with smtp:// or smtps://').optional(),
    transport: z.custom<MailTransporterLike>((value) => typeof (value as MailTransporterLike | null)?.sendMail === 'function', 'must be a nodemailer transport (with sendMail)').optional(),
    send: fn.optional(),
    retry: z
      .strictObject({
        attempts: z.number().int().min(1).max(10).optional(),
        initialDelayMs: z.number().int().min(0).max(60000).optional(),
        maxDelayMs: z.number().int().min(0).max(300000).optional(),
      })
      .optional(),
  })
  .superRefine((mail, ctx) => {
    const ways = (['smtpUrl', 'transport', 'send'] as const).filter((way) => mail[way] !== undefined);
    if (ways.length !== 1) ctx.addIssue({ code: 'custom', message: `needs exactly one of smtpUrl, transport or send (got ${ways.length === 0 ? 'none' : ways.join(', ')})` });
    if (!mail.send && !mail.from) ctx.addIssue({ code: 'custom', path: ['from'], message: 'is required to send through smtpUrl or transport' });
  });

const repository = (methods: readonly string[]) =>
  z.custom<unknown>((value) => value !== null && typeof value === 'object' && methods.every((m) => typeof (value as Record<string, unknown>)[m] === 'function'), `must have the methods ${methods.join(', ')}`);

const optionsSchema = z.strictObject({
  findAccountByEmail: fn,
  findAccountById: fn.optional(),
  onSignIn: fn.optional(),
  createAccount: fn.optional(),
  mail: mailSchema,
  store: z
    .strictObject({
      codes: repository(['insert', 'supersedeAllButNewest', 'findById', 'findLatestForInteraction', 'compareAndSet', 'reserveAttempt', 'deleteByUser']),
      counters: repository(['increment', 'decrement', 'get', 'sequence']),
    })
    .loose()
    .optional(),
  secondFactor: z
    .custom<MagicLinkSecondFactor>((value) => {
      const given = value as Record<string, unknown> | null;
      if (given === null || typeof given !== 'object') return false;
      return typeof given.secretOf === 'function' || (typeof given.isEnrolled === 'function' && typeof given.verify === 'function');
    }, 'must have secretOf(accountId), or isEnrolled(accountId) and verify(accountId, code)')
    .optional(),
  keys: z.array(z.string().min(16, 'each key needs at least 16 characters')).min(1).optional(),
  timeToLiveInSeconds: z.number().int().min(1).max(600).optional(),
  maxAttempts: z.number().int().min(1).max(20).optional(),
  shortCode: codeGenerator.optional(),
  linkCodeBytes: z.number().int().min(16).max(128).optional(),
  rateLimits: z
    .strictObject({
      enabled: z.boolean().optional(),
      sendPerAddress: rateRule.optional(),
      sendPerIp: rateRule.optional(),
      sendGlobal: rateRule.optional(),
      typedCodesPerAccount: rateRule.optional(),
      wrongCodesPerIp: rateRule.optional(),
      wrongCodesGlobal: rateRule.optional(),
    })
    .optional(),
  secondFactorMaxAttempts: z.number().int().min(1).max(20).optional(),
  trustTimeToLiveInSeconds: z.number().int().min(1).max(31_536_000).optional(),
  theme: z.string().min(1).optional(),
  defaultLocale: z.string().regex(/^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/, 'must be a language tag such as en or de').optional(),
  interactionTimeToLiveInSeconds: z.number().int().min(1).optional(),
});

/** Checks the options; throws {@link MagicLinkOptionsError} naming the first bad one. */
export function validateOptions(options: unknown): MagicLinkOptions {
  if (options === null || typeof options !== 'object') throw new MagicLinkOptionsError('(options)', 'must be an object');
  const parsed = optionsSchema.safeParse(options);
  if (parsed.success) return options as MagicLinkOptions;
  const issue = parsed.error.issues[0]!;
  const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
  const path = [...issue.path.map(String), ...(keys.length === 1 ? keys : [])].join('.') || '(options)';
  const reason = issue.code === 'unrecognized_keys' ? 'is not an option of magicLink()' : issue.code === 'invalid_type' && / undefined$/.test(issue.message) ? 'is required' : issue.message;
  throw new MagicLinkOptionsError(path, reason);
}
