import type { Config } from '../config/schema.js';
import type { CodeRepository, CounterRepository, PasswordlessCodeRecord } from '../storage/types.js';
import { deriveShortCode, generateCode, typedCodeAsIssued } from './generators.js';
import { hashCode } from './hash.js';
import { SIGN_UP_STAGE } from './sign-up.js';
import { log } from '../log.js';

/** Why a code cannot be used. `unknown` also covers codes past their retention. */
export type CodeProblem = 'unknown' | 'expired' | 'used' | 'superseded' | 'exhausted' | 'denied';

export type CodeLookup =
  | { usable: true; record: PasswordlessCodeRecord }
  | { usable: false; problem: CodeProblem; record: PasswordlessCodeRecord | null };

export type TypedCodeResult =
  | { ok: true; record: PasswordlessCodeRecord }
  | { ok: false; problem: 'wrong'; attemptsLeft: number }
  | { ok: false; problem: Exclude<CodeProblem, 'unknown'> | 'none' };

/**
 * Whether a typed code counts against the wrong-code budgets across codes: a wrong code, or one
 * tried on a code whose tries are spent. A right code, or one never compared because the code
 * was used, expired or replaced, does not.
 */
export function countsAsWrongCode(result: TypedCodeResult): boolean {
  return !result.ok && (result.problem === 'wrong' || result.problem === 'exhausted');
}

export interface IssueRequest {
  /** The account the code signs in. */
  userId: string;
  /** The group of which only the newest code stays valid (see PasswordlessCodeRecord.owner); default the user's API group. */
  owner?: string;
  clientId: string | null;
  interactionUid?: string | null;
  state?: Record<string, unknown> | null;
  withShortCode: boolean;
  extra?: Record<string, unknown>;
}

export interface IssuedCode {
  linkCode: string;
  shortCode: string | null;
  record: PasswordlessCodeRecord;
}

export interface CodeSettings {
  timeToLiveInSeconds: number;
  linkCode: Config['passwordless']['linkCode'];
  shortCode: Config['passwordless']['shortCode'];
  maxAttempts: number;
  /** How long after expiry a record is kept so a late click can be told what happened. */
  retainSeconds: number;
}

/**
 * The account of the codes issued for an address that gets no email (no account, or one that may
 * not sign in here): one per address, never a user id, so such a code signs in no one.
 */
export function unsentCodeOwner(emailNormalized: string): string {
  return `no-account:${hashCode(emailNormalized)}`;
}

/**
 * The group of the hosted pages' codes for an address: the typed address alone, whether it has
 * an account or not and whatever the client's rules, so which code a new request voids tells
 * nothing about the address (and never an API code: see apiCodeOwner).
 */
export function hostedCodeOwner(emailNormalized: string): string {
  return `hosted:${hashCode(emailNormalized)}`;
}

/** The group of the REST API's codes of a user: only the integrator's own /start voids them. */
export function apiCodeOwner(userId: string): string {
  return `api:${userId}`;
}

/** How long an owner's issue counter lives after its last code: far past any code's life, so it never restarts under a live code. */
const SEQUENCE_KEPT_MS = 7 * 24 * 3600 * 1000;

/** What the stored state of a code means at `now`. */
export function describeCode(record: PasswordlessCodeRecord | null, now: number): CodeLookup {
  if (!record) return { usable: false, problem: 'unknown', record: null };
  if (record.status !== 'active') return { usable: false, problem: record.status, record };
  if (record.expiresAt <= now) return { usable: false, problem: 'expired', record };
  return { usable: true, record };
}

/**
 * The instants this instance issues codes at: the clock, except that it never gives two codes of
 * one user the same millisecond, so the newest code of a sign-in (findLatestForInteraction, by
 * `createdAt`) is never a tie. Which code stays valid is decided by `sequence`, not by this.
 * Only users given an instant the clock has not yet passed are remembered.
 */
class IssueClock {
  readonly #latest = new Map<string, number>();
  #horizon = -Infinity;

  stamp(owner: string, now = Date.now()): number {
    // Every remembered instant is at most the horizon, so none can tie with a later `now`.
    if (now > this.#horizon) this.#latest.clear();
    const previous = this.#latest.get(owner);
    const at = previous !== undefined && previous >= now ? previous + 1 : now;
    this.#latest.set(owner, at);
    this.#horizon = Math.max(this.#horizon, at);
    return at;
  }
}

/**
 * Magic-link codes: issue (only the newest per user stays valid), look up, and redeem
 * atomically. Plaintext codes leave this module only in the value returned by `issue`.
 */
export class PasswordlessCodes {
  constructor(
    private readonly codes: CodeRepository,
    private readonly counters: CounterRepository,
    readonly settings: CodeSettings,
  ) {}

  readonly #clock = new IssueClock();

  /**
   * Issues a new code for the user and supersedes every earlier one. `now`, when given, is the
   * code's creation instant exactly as given (tests set it to make expired codes).
   */
  async issue(request: IssueRequest, now?: number): Promise<IssuedCode> {
    const createdAt = now ?? this.#clock.stamp(request.userId);
    const linkCode = generateCode(this.settings.linkCode);
    const shortCode = request.withShortCode ? deriveShortCode(linkCode, this.settings.shortCode) : null;
    const expiresAt = createdAt + this.settings.timeToLiveInSeconds * 1000;
    const owner = request.owner ?? apiCodeOwner(request.userId);
    // Counted in the store, atomically: instances whose clocks disagree still agree on the order.
    const sequence = await this.counters.sequence(`code-seq:${owner}`, Date.now() + SEQUENCE_KEPT_MS);
    const record: PasswordlessCodeRecord = {
      id: hashCode(linkCode),
      shortHash: shortCode === null ? null : hashCode(shortCode),
      userId: request.userId,
      owner,
      sequence,
      clientId: request.clientId,
      interactionUid: request.interactionUid ?? null,
      state: request.state ?? null,
      status: 'active',
      attempts: 0,
      createdAt,
      expiresAt,
      retainUntil: expiresAt + this.settings.retainSeconds * 1000,
    };
    if (request.extra) record.extra = request.extra;
    await this.codes.insert(record);
    // Not "all but mine": two issues for one owner at once would then void each other's code.
    await this.codes.supersedeAllButNewest(owner);
    return { linkCode, shortCode, record };
  }

  /** Reads a link code's state without changing anything (safe for GET). */
  async inspect(linkCode: string, now = Date.now()): Promise<CodeLookup> {
    return describeCode(await this.codes.findById(hashCode(linkCode), now), now);
  }

  /**
   * Moves a redeemed sign-up code from "form to fill" to "account made", once: true for the one
   * caller that did it, false when the form was sent already (or the code is no sign-up).
   */
  async markSignUpDone(record: PasswordlessCodeRecord): Promise<boolean> {
    const done = await this.codes.compareAndSet(record.id, { status: 'used', extraFields: { [SIGN_UP_STAGE]: 'pending' } }, { extra: { ...record.extra, [SIGN_UP_STAGE]: 'done' } });
    return done !== null;
  }

  /** The newest code issued for a hosted sign-in, read-only. */
  async latestForInteraction(interactionUid: string, now = Date.now()): Promise<CodeLookup> {
    return describeCode(await this.codes.findLatestForInteraction(interactionUid, now), now);
  }

  /**
   * Redeems a link code once. `interactionUid`, when given, must be the sign-in the code was
   * issued for. Exactly one of any number of concurrent calls succeeds.
   */
  async redeemLink(linkCode: string, options: { interactionUid?: string } = {}, now = Date.now()): Promise<CodeLookup> {
    const id = hashCode(linkCode);
    if (options.interactionUid !== undefined) {
      const current = await this.codes.findById(id, now);
      if (current && current.interactionUid !== options.interactionUid) return { usable: false, problem: 'unknown', record: null };
    }
    const redeemed = await this.codes.compareAndSet(id, { status: 'active', unexpiredAt: now }, { status: 'used', usedAt: now });
    if (redeemed) return { usable: true, record: redeemed };
    return describeCode(await this.codes.findById(id, now), now);
  }

  /**
   * Checks a typed short code against a specific code record. Each guess first takes one of the
   * code's `maxAttempts` tries, atomically, and only a guess that got a try is compared: however
   * many guesses arrive at once, at most `maxAttempts` are ever compared, and a guess past them
   * fails even when it is right. A wrong guess that used the last try voids the code. Spaces and
   * hyphens people type inside a code are ignored (see typedCodeAsIssued).
   */
  async redeemShortCode(record: PasswordlessCodeRecord, typed: string, now = Date.now()): Promise<TypedCodeResult> {
    if (record.shortHash === null) return { ok: false, problem: 'none' };
    const reserved = await this.codes.reserveAttempt(record.id, this.settings.maxAttempts, now);
    if (!reserved) return this.#whyNoTry(record.id, now);
    // The short code never changes once issued: a wrong guess needs no write to find out.
    const typedHash = hashCode(typedCodeAsIssued(typed, this.settings.shortCode));
    const redeemed = typedHash === reserved.shortHash ? await this.#redeemWithTry(record.id, typedHash, now) : null;
    if (redeemed) return { ok: true, record: redeemed };
    if (reserved.attempts >= this.settings.maxAttempts) return this.#exhaust(record.id);
    return { ok: false, problem: 'wrong', attemptsLeft: this.settings.maxAttempts - reserved.attempts };
  }

  /**
   * Redeems the code when `shortHash` is its short code. The caller holds one of the code's
   * tries; a concurrent wrong guess holding the last one may have voided the code meanwhile,
   * which must not take this allowed try away: an exhausted code is redeemed too.
   */
  async #redeemWithTry(id: string, shortHash: string, now: number): Promise<PasswordlessCodeRecord | null> {
    for (const status of ['active', 'exhausted'] as const) {
      const redeemed = await this.codes.compareAndSet(id, { status, unexpiredAt: now, shortHash }, { status: 'used', usedAt: now });
      if (redeemed) return redeemed;
    }
    return null;
  }

  /** The answer to a guess that got no try: the code is unusable, or its tries are spent. */
  async #whyNoTry(id: string, now: number): Promise<TypedCodeResult> {
    const lookup = describeCode(await this.codes.findById(id, now), now);
    if (!lookup.usable) return { ok: false, problem: lookup.problem === 'unknown' ? 'expired' : lookup.problem };
    return this.#exhaust(id);
  }

  /**
   * A typed code for a sign-in that has no code yet (its first request is still being worked on,
   * whatever the address): counts guesses the way a code does. Every address gets a code, so
   * this is the same for known and unknown ones.
   */
  async rejectShortCodeWithoutRecord(interactionUid: string, now = Date.now()): Promise<TypedCodeResult> {
    const attempts = await this.counters.increment(`typed-without-code:${interactionUid}`, now + this.settings.retainSeconds * 1000);
    if (attempts >= this.settings.maxAttempts) return { ok: false, problem: 'exhausted' };
    return { ok: false, problem: 'wrong', attemptsLeft: this.settings.maxAttempts - attempts };
  }

  /** The short code that belongs to a link code (for the page the link opens elsewhere). */
  shortCodeFor(linkCode: string, record: PasswordlessCodeRecord): string | null {
    return record.shortHash === null ? null : deriveShortCode(linkCode, this.settings.shortCode);
  }

  /** Voids a code (e.g. the user said "this wasn't me"). */
  async deny(id: string): Promise<boolean> {
    return (await this.codes.compareAndSet(id, { status: 'active' }, { status: 'denied' })) !== null;
  }

  async #exhaust(id: string): Promise<TypedCodeResult> {
    const voided = await this.codes.compareAndSet(id, { status: 'active' }, { status: 'exhausted' });
    // Once, by whoever voided it: later wrong tries meet an exhausted code and say nothing new.
    if (voided) log.info('code.voided', { client: voided.clientId, user: voided.userId });
    return { ok: false, problem: 'exhausted' };
  }
}
