import type { Adapter } from 'oidc-provider';

/**
 * The one storage interface. Two implementations exist (memory, mongodb); nothing outside
 * `storage/` knows which one runs. Times are milliseconds since the epoch.
 */

export interface Registration {
  id: string;
  applicationId: string;
  roles: string[];
  insertInstant: number;
  lastLoginInstant?: number;
}

export interface UserRecord {
  /** Stable UUID; the OIDC `sub`. */
  id: string;
  email: string;
  /** Lower-cased, trimmed email: unique across users. */
  emailNormalized: string;
  firstName?: string;
  lastName?: string;
  /** FusionAuth's profile fields, stored and returned as given (validated by the API). */
  middleName?: string;
  fullName?: string;
  username?: string;
  /** Lower-cased, trimmed username: unique across the users that have one. */
  usernameNormalized?: string;
  mobilePhone?: string;
  /** YYYY-MM-DD. */
  birthDate?: string;
  imageUrl?: string;
  preferredLanguages: string[];
  timezone?: string;
  data: Record<string, unknown>;
  /** false = locked: cannot sign in. */
  active: boolean;
  verified: boolean;
  registrations: Registration[];
  insertInstant: number;
  lastUpdateInstant: number;
  lastLoginInstant?: number;
  /** When the account expires (FusionAuth `expiry`); after it the user cannot sign in. */
  expiry?: number;
  /** The user's second factors as the API shows them; the secrets live in {@link TwoFactorRepository}. */
  twoFactor?: { methods: TwoFactorMethodSummary[] };
  /**
   * When the user was last locked: OIDC sessions and tokens issued before it are not honoured
   * again once the user is unlocked (an administrator locks a compromised account to end them).
   */
  lockedAt?: number;
}

/** One second factor of a user as FusionAuth's `user.twoFactor.methods[]` shows it. */
export interface TwoFactorMethodSummary {
  id: string;
  method: 'authenticator';
  authenticator: { algorithm: 'HmacSHA1'; codeLength: 6; timeStep: 30 };
}

/** See {@link UserRepository.findWithRevision}; null for a record stored before revisions existed. */
export type UserRevision = string | null;

export interface UserRepository {
  /** Throws {@link DuplicateKeyError} when the id, normalised email or normalised username is taken. */
  insert(user: UserRecord): Promise<void>;
  findById(id: string): Promise<UserRecord | null>;
  findByEmail(emailNormalized: string): Promise<UserRecord | null>;
  /** The user with this normalised username (see {@link normalizeUsername}); null when none has it. */
  findByUsername(usernameNormalized: string): Promise<UserRecord | null>;
  list(options: { limit: number; offset: number }): Promise<UserRecord[]>;
  /**
   * The user and its revision, an opaque token that every write to the user (insert,
   * replaceIfUnchanged, recordLogin) renews: for a read-modify-write with replaceIfUnchanged.
   */
  findWithRevision(id: string): Promise<{ user: UserRecord; revision: UserRevision } | null>;
  /**
   * Replaces the whole record only while its revision is still `revision` (nothing wrote the
   * user since it was read), atomically; false when it changed or is absent. Throws
   * {@link DuplicateKeyError} on an email clash. The only whole-record write: there is no blind
   * replace, which would lose a change made since the read (accounts/users.ts `modifyUser` retries).
   */
  replaceIfUnchanged(user: UserRecord, revision: UserRevision): Promise<boolean>;
  /**
   * Sets the user's last login and, when the user has a registration for `clientId`, that
   * registration's — in one atomic write, so a concurrent change to the user (an admin locking
   * it) is never overwritten; it renews the revision, so a read-modify-write begun before it
   * does not overwrite the login instants either. The user as stored afterwards; null when absent.
   */
  recordLogin(id: string, clientId: string | null, now: number): Promise<UserRecord | null>;
  delete(id: string): Promise<boolean>;
}

export type CodeStatus = 'active' | 'used' | 'superseded' | 'exhausted' | 'denied';

export interface PasswordlessCodeRecord {
  /** SHA-256 (hex) of the link code; the plaintext is never stored. */
  id: string;
  /** SHA-256 (hex) of the short typed code, when one was issued. */
  shortHash: string | null;
  /** The account the code signs in (or, for an address with no account, a stand-in that signs in no one). */
  userId: string;
  /**
   * The group of codes of which only the newest stays valid: for the hosted pages the typed
   * address (whoever it belongs to, whatever the client's rules), for the REST API the user.
   * The two never share a group, so neither can void the other's codes.
   */
  owner: string;
  /** Issue order within `owner`, counted in the store (not by an instance's clock): the greatest is the newest. */
  sequence: number;
  clientId: string | null;
  /** The hosted sign-in this code belongs to, if it was started from one. */
  interactionUid: string | null;
  /** Caller-supplied state (API start), echoed back at login. */
  state: Record<string, unknown> | null;
  status: CodeStatus;
  /** Wrong typed codes so far. */
  attempts: number;
  createdAt: number;
  /** After this the code can no longer be redeemed. */
  expiresAt: number;
  /** The record is kept until then, so a late click can be told "expired" or "used" rather than "unknown". */
  retainUntil: number;
  usedAt?: number;
  /** Anything a later feature attaches (e.g. the cross-device context); opaque to the store. */
  extra?: Record<string, unknown>;
}

/** Conditions of a conditional update; all given ones must hold. */
export interface CodeExpectation {
  status?: CodeStatus;
  /** The code must not be expired at this instant. */
  unexpiredAt?: number;
  shortHash?: string;
  attemptsBelow?: number;
  /**
   * Each named top-level field of `extra` must equal the given value (a missing field never
   * matches). Names are plain identifiers (no `.` or `$`), so a document store can turn them
   * into `extra.<name>` filters. Used by the cross-device approval state.
   */
  extraFields?: Record<string, string | number | boolean>;
}

export interface CodeRepository {
  insert(record: PasswordlessCodeRecord): Promise<void>;
  /**
   * Marks every active code of `owner` superseded except the newest one, and returns how many.
   * Newest means the greatest `sequence`, then `id` for equal ones. Codes newer than the newest
   * active one this call saw (inserted meanwhile) are never touched, so however the inserts and
   * calls of concurrent issuers interleave, once each issuer has called this after its insert
   * exactly one of the owner's codes is active: the newest.
   */
  supersedeAllButNewest(owner: string): Promise<number>;
  /** A retained record (even if expired or used); null when unknown or past `retainUntil`. */
  findById(id: string, now: number): Promise<PasswordlessCodeRecord | null>;
  /** The newest retained record issued for an interaction. */
  findLatestForInteraction(interactionUid: string, now: number): Promise<PasswordlessCodeRecord | null>;
  /**
   * Atomically applies `set` when every expectation holds, and returns the updated record;
   * null when they did not hold. Two concurrent calls can never both succeed for the same
   * `status` expectation.
   */
  compareAndSet(
    id: string,
    expect: CodeExpectation,
    set: Partial<Omit<PasswordlessCodeRecord, 'id'>>,
  ): Promise<PasswordlessCodeRecord | null>;
  /**
   * Atomically takes one of a code's `maxAttempts` typed-code tries: adds one to `attempts` of an
   * active code unexpired at `now` whose attempts are still below `maxAttempts`. Returns the
   * record after it, or null when no try was left (or the code is not active). A try is taken
   * before the typed code is compared, so concurrent guesses can never get more than
   * `maxAttempts` comparisons. `attempts` in the result is this call's own count where the
   * store gives exact update results, else possibly a later one.
   */
  reserveAttempt(id: string, maxAttempts: number, now: number): Promise<PasswordlessCodeRecord | null>;
  /** Removes every code of the user, in any status (the user was deleted); returns how many. */
  deleteByUser(userId: string): Promise<number>;
}

export interface CounterRepository {
  /**
   * Adds one to the fixed window `key` (which the caller makes window-specific) and returns the
   * count after the increment. The counter disappears after `expiresAt`.
   */
  increment(key: string, expiresAt: number): Promise<number>;
  /**
   * Takes one back from the live window `key` (a try counted in advance that turned out right);
   * never below zero, and nothing once the window has ended.
   */
  decrement(key: string, now: number): Promise<void>;
  get(key: string, now: number): Promise<number>;
  /**
   * The next number of the sequence `key` (1, 2, 3 …), atomically across instances: it never
   * repeats or goes back while the sequence is in use. Each call keeps it until `keepUntil`; a
   * sequence unused that long may start again at 1.
   */
  sequence(key: string, keepUntil: number): Promise<number>;
}

export interface ApiKeyRecord {
  id: string;
  /** SHA-256 (hex) of the key. */
  keyHash: string;
  description: string;
  permissions: Record<string, string[]>;
  insertInstant: number;
}

export interface ApiKeyRepository {
  insert(record: ApiKeyRecord): Promise<void>;
  findByHash(keyHash: string): Promise<ApiKeyRecord | null>;
  list(): Promise<ApiKeyRecord[]>;
  delete(id: string): Promise<boolean>;
}

/** A refresh token of the REST API (`/api/passwordless/login`, `/api/jwt/refresh`); only its hash is kept. */
export interface RefreshTokenRecord {
  /** UUID; the `refreshTokenId` callers see. */
  id: string;
  /** SHA-256 (hex) of the token. */
  tokenHash: string;
  userId: string;
  applicationId: string;
  /** When the login that started this chain of rotations happened. */
  startInstant: number;
  /** The id of the chain's first token, shared by every token rotated from it; absent on tokens stored before chains (their own id). */
  chainId?: string;
  insertInstant: number;
  expiresAt: number;
  /** Set when the token was exchanged (rotated); a consumed token is never accepted again. */
  consumedAt?: number;
}

export interface RefreshTokenRepository {
  insert(record: RefreshTokenRecord): Promise<void>;
  /**
   * Atomically marks the unexpired, unconsumed token with this hash consumed and returns it;
   * null otherwise. Two concurrent calls can never both succeed.
   */
  consume(tokenHash: string, now: number): Promise<RefreshTokenRecord | null>;
  /** The token with this hash in any state (consumed or not) while it is kept; null otherwise. */
  findByHash(tokenHash: string): Promise<RefreshTokenRecord | null>;
  /** Removes every token of a chain of rotations (see RefreshTokenRecord.chainId); returns how many. */
  deleteChain(chainId: string): Promise<number>;
  /** Removes every refresh token of the user (deleted or locked); returns how many. */
  deleteByUser(userId: string): Promise<number>;
  /** The user's tokens still usable at `now` (unexpired, unconsumed), oldest first. */
  listByUser(userId: string, now: number): Promise<RefreshTokenRecord[]>;
  /** Removes the token with this hash (revoked by its holder); false when there was none. */
  deleteByHash(tokenHash: string): Promise<boolean>;
  /** Removes every token of an application, or of one user for it; returns how many. */
  deleteByApplication(applicationId: string, userId?: string): Promise<number>;
}

/** A user's authenticator (TOTP) enrolment; at most one per user. */
export interface TwoFactorEnrolmentRecord {
  userId: string;
  methodId: string;
  method: 'authenticator';
  /** The base32 secret sealed with AES-256-GCM; never stored in the clear. */
  sealedSecret: string;
  /** SHA-256 (hex) of each unused recovery code. */
  recoveryCodeHashes: string[];
  /** Highest TOTP time step accepted so far: a code of this step or an earlier one is a replay. */
  lastUsedStep: number;
  insertInstant: number;
}

export interface TwoFactorRepository {
  /** Throws {@link DuplicateKeyError} ('userId') when the user already has an enrolment. */
  insert(record: TwoFactorEnrolmentRecord): Promise<void>;
  findByUser(userId: string): Promise<TwoFactorEnrolmentRecord | null>;
  /** Atomically raises `lastUsedStep` to `step` when it is lower; true only for the call that did. */
  claimStep(userId: string, methodId: string, step: number): Promise<boolean>;
  /** Atomically removes one recovery code hash; true only for the call that removed it. */
  useRecoveryCode(userId: string, methodId: string, codeHash: string): Promise<boolean>;
  delete(userId: string): Promise<boolean>;
}

export type TwoFactorLoginStatus = 'pending' | 'used';

/** An API login waiting for its second factor (FusionAuth's `twoFactorId`). */
export interface TwoFactorLoginRecord {
  /** SHA-256 (hex) of the twoFactorId. */
  id: string;
  userId: string;
  applicationId: string | null;
  state: Record<string, unknown> | null;
  status: TwoFactorLoginStatus;
  /** Answers tried so far (each is counted before it is checked; a right one ends the login). */
  attempts: number;
  /**
   * SHA-256 (hex) of the last answer counted: the same answer again is not counted twice. While
   * the login is pending that answer was wrong (a right one would have completed it).
   */
  lastWrongHash?: string;
  createdAt: number;
  expiresAt: number;
}

export interface TwoFactorLoginRepository {
  insert(record: TwoFactorLoginRecord): Promise<void>;
  /** The record while unexpired (in any status); null otherwise. */
  findById(id: string, now: number): Promise<TwoFactorLoginRecord | null>;
  /**
   * Atomically takes one of a pending login's `maxAttempts` tries for the answer with this hash,
   * before the answer is checked: counts it on a pending login unexpired at `now` with fewer than
   * `maxAttempts` answers so far, unless it repeats the last answer counted (HTTP clients such as
   * Node's fetch resend a request answered 421). The record after it (its `attempts` this call's
   * own count where the store gives exact update results), or null when no try was taken.
   */
  reserveAttempt(id: string, answerHash: string, now: number, maxAttempts: number): Promise<TwoFactorLoginRecord | null>;
  /**
   * Atomically marks a pending, unexpired login used; true only for the call that did. The
   * caller has taken a try with {@link reserveAttempt} first, so the try limit is already kept.
   */
  complete(id: string, now: number): Promise<boolean>;
  /** Removes every login of the user waiting for (or past) its second factor (the user was deleted); returns how many. */
  deleteByUser(userId: string): Promise<number>;
}

/** A device the user trusts: it skips the second factor until `expiresAt`. */
export interface TwoFactorTrustRecord {
  /** SHA-256 (hex) of the trust id (FusionAuth's `twoFactorTrustId`, or the hosted cookie's value). */
  id: string;
  userId: string;
  insertInstant: number;
  expiresAt: number;
}

export interface TwoFactorTrustRepository {
  insert(record: TwoFactorTrustRecord): Promise<void>;
  /** The record while unexpired; null otherwise. */
  findById(id: string, now: number): Promise<TwoFactorTrustRecord | null>;
  /** Forgets every trusted device of the user; returns how many. */
  deleteByUser(userId: string): Promise<number>;
}

/** A delivery's states: waiting (or being tried), delivered, or given up (past `maxAgeHours`). */
export const WEBHOOK_DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number];

/** One event to one webhook: written with the change it reports, then sent (and re-sent) by a background sender. */
export interface WebhookDeliveryRecord {
  /** `<eventId>:<webhookId>`. */
  id: string;
  eventId: string;
  webhookId: string;
  /** The event type (`user.login.success`, …). */
  type: string;
  /** Deliveries with one key (a user, else the event type) reach one webhook in `sequence` order. */
  orderKey: string;
  /** Issue order across instances (the store's counter). */
  sequence: number;
  /** The JSON body, fixed when written: every try sends the same bytes. */
  body: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  createdAt: number;
  nextAttemptAt: number;
  /** The sender instance holding the delivery until `leaseUntil` (0: nobody). */
  leaseOwner: string | null;
  leaseUntil: number;
  lastStatus: number | null;
  lastError: string | null;
  settledAt: number | null;
  /** Kept for listing until then (pending deliveries are kept whatever this says). */
  retainUntil: number;
}

export interface WebhookDeliveryRepository {
  insertMany(records: readonly WebhookDeliveryRecord[]): Promise<void>;
  /**
   * Leases up to `limit` due deliveries to `owner` until `now + leaseMs`, oldest first, skipping
   * any whose webhook has an older pending delivery with the same `orderKey` (so one user's
   * events reach a webhook in order), and those of the webhooks in `skip` (busy ones). A delivery
   * is leased by one caller at a time.
   */
  lease(now: number, owner: string, leaseMs: number, limit: number, skip?: readonly string[]): Promise<WebhookDeliveryRecord[]>;
  /** Applies `update` to a delivery `owner` still leases; false when the lease was lost. */
  settle(id: string, owner: string, update: Partial<Omit<WebhookDeliveryRecord, 'id'>>): Promise<boolean>;
  /** Newest first; `status` filters. */
  list(filter: { status?: WebhookDeliveryStatus; limit: number }): Promise<WebhookDeliveryRecord[]>;
  /**
   * Sends every delivery of an event again (replay): pending, no tries, due now, kept until
   * `retainUntil` (a replay late in the retention must not be purged while pending). How many.
   */
  requeueEvent(eventId: string, now: number, retainUntil: number): Promise<number>;
}

export interface Store {
  readonly kind: 'memory' | 'mongodb';
  readonly webhookDeliveries: WebhookDeliveryRepository;
  readonly users: UserRepository;
  readonly codes: CodeRepository;
  readonly counters: CounterRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly refreshTokens: RefreshTokenRepository;
  readonly twoFactor: TwoFactorRepository;
  readonly twoFactorLogins: TwoFactorLoginRepository;
  readonly twoFactorTrusts: TwoFactorTrustRepository;
  /** node-oidc-provider's adapter for one model name (Session, Interaction, AccessToken, …). */
  oidcAdapter(model: string): Adapter;
  /**
   * Runs `work` as one step of the store, so a change and the event that reports it (see
   * events/events.ts) are stored together or not at all, as far as the store can promise it:
   *
   * - MongoDB with transactions (replica set, mongos, the jongodb test engine): one transaction.
   *   Every repository call made during `work` joins it, except counters (rate-limit tries and
   *   event sequence numbers, which must not be rolled back); a throw rolls the rest back. The
   *   driver may run `work` again after a transient error (write conflict, failover), each time
   *   in a fresh transaction, so `work` must be safe to re-run and must not swallow store errors.
   * - MongoDB without transactions (a standalone mongod, said once in the log at start-up):
   *   `work` runs plainly; its writes land one by one, and a failure part-way keeps those before it.
   * - Memory: `work` runs in this process; writes are not undone on a throw, but nothing is lost
   *   to a crash between them either (a crash loses the whole store).
   *
   * A call made inside another `atomically` joins it. Resolves with `work`'s result; rejects with
   * its error.
   */
  atomically<T>(work: () => Promise<T>): Promise<T>;
  /** Creates indexes and whatever else the store needs; idempotent. */
  init(): Promise<void>;
  /** Resolves when the store answers; rejects with {@link StoreUnavailableError} otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A unique key (user id, email, …) is already taken. */
export class DuplicateKeyError extends Error {
  readonly code = 'duplicate_key';
  constructor(readonly field: string) {
    super(`duplicate ${field}`);
  }
}

/** A read-modify-write kept losing to concurrent writes of the same record; the caller may try again. Becomes a 409. */
export class WriteConflictError extends Error {
  readonly code = 'write_conflict';
}

/** The store cannot be reached (database down); becomes a 503. */
export class StoreUnavailableError extends Error {
  readonly code = 'store_unavailable';
}

/** A user id as stored: UUIDs are case-insensitive, so one written in capitals is the same id. */
export function normalizeUserId(id: string): string {
  return id.toLowerCase();
}

export function normalizeEmail(email: string): string {
  return email.normalize('NFC').trim().toLowerCase();
}

/** Usernames are unique whatever their case, as FusionAuth's are. */
export function normalizeUsername(username: string): string {
  return username.normalize('NFC').trim().toLowerCase();
}
