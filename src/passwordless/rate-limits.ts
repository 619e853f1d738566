import { hash } from 'node:crypto';
import type { CounterRepository } from '../storage/types.js';
import { log } from '../log.js';
import { countsAsWrongCode, type TypedCodeResult } from './codes.js';

/** One limit: at most `limit` events per fixed window of `windowSeconds`. */
export interface RateRule {
  limit: number;
  windowSeconds: number;
}

export interface RateLimitSettings {
  enabled: boolean;
  sendPerAddress: RateRule;
  sendPerIp: RateRule;
  sendGlobal: RateRule;
  typedCodesPerAccount: RateRule;
}

/** One limit to ask: the rule's name, whose budget it is (hashed into the key), the rule. */
type RateCheck = [name: string, subject: string, rule: RateRule];

export type RateDecision = { allowed: true } | { allowed: false; rule: string; retryAfterSeconds: number };

/** How a typed code fared under the budgets: refused before it was compared, or compared, with the result. */
export type CodeTry = { allowed: true; result: TypedCodeResult } | Extract<RateDecision, { allowed: false }>;

/** Counter keys never hold an address or IP in the clear. */
function subjectKey(subject: string): string {
  return hash('sha256', subject, 'base64url').slice(0, 22);
}

/** A refusal; logged here so every limit that bites is seen once, without its subject. */
function denied(rule: string, resetAt: number, now: number): RateDecision {
  const retryAfterSeconds = Math.max(1, Math.ceil((resetAt - now) / 1000));
  log.info('ratelimit.hit', { rule, retryAfterSeconds });
  return { allowed: false, rule, retryAfterSeconds };
}

/** The clock-aligned window of `rule` that `now` falls in: its counter key (under `keyPrefix`) and when it ends. */
export function fixedWindow(keyPrefix: string, rule: RateRule, now: number): { key: string; resetAt: number } {
  const windowMs = rule.windowSeconds * 1000;
  const start = Math.floor(now / windowMs) * windowMs;
  return { key: `${keyPrefix}:${start}`, resetAt: start + windowMs };
}

/** Whole minutes to wait, at least one, for a page that says "please wait N minutes". */
export function minutesToWait(retryAfterSeconds: number): number {
  return Math.max(1, Math.ceil(retryAfterSeconds / 60));
}

/** The typed-code budget key of an address (normalised by the caller). */
export const addressBudget = (emailNormalized: string): string => `address:${emailNormalized}`;
/** The typed-code budget key of an account, shared by the hosted pages and the API. */
export const accountBudget = (userId: string): string => `user:${userId}`;

/**
 * Fixed-window limits kept in the store, so every instance counts against the same budget.
 * One rule for every check of several limits: the narrowest limit is asked first, and a request
 * it refuses goes no further, so it consumes nothing of the wider limits. A refused request still
 * counts against the limit that refused it (hammering does not help), but one client can never
 * spend budgets it shares with others (the global email budget, another address's budget) with
 * requests its own limit already refuses.
 */
export class RateLimiter {
  constructor(
    private readonly counters: CounterRepository,
    readonly settings: RateLimitSettings,
  ) {}

  /**
   * Counts one email send for this IP, then this address, then everyone (narrowest first): the IP's
   * budget belongs to the one client asking, the address's is shared by everyone who types it, and the
   * global one by all. The caller asks before looking the address up, so known and unknown addresses count alike.
   * `ip` null skips the IP's budget: the REST API's /send, whose caller is a server of the integrator.
   */
  async allowSend(address: string, ip: string | null, now = Date.now()): Promise<RateDecision> {
    return this.#spendInOrder(this.#sendChecks(address, ip), now);
  }

  /**
   * Gives back an email counted at `countedAt` by an allowed {@link allowSend} that was not sent
   * (the mail server was down or refused it): only emails that went out count. It is counted
   * before the send, not after, so concurrent sends still cannot pass a limit together.
   */
  async refundSend(address: string, ip: string | null, countedAt: number): Promise<void> {
    await this.#refund(this.#sendChecks(address, ip), countedAt);
  }

  /**
   * Takes one typed-code try from the budget of each subject, narrowest first (e.g. the address, then
   * the account it may belong to, which the API shares), BEFORE the code is compared, so concurrent
   * guesses cannot all pass a check made earlier. Denied when any one budget is spent; a denied try
   * is never compared, still counts against the budget that refused it, and takes nothing from the
   * budgets after it. A try that turns out not to be a wrong code is given back with {@link #refundCodeTry};
   * {@link withCodeTry} does both around the comparison.
   */
  async #spendCodeTry(accountKeys: readonly string[], now = Date.now()): Promise<RateDecision> {
    const rule = this.settings.typedCodesPerAccount;
    return this.#spendInOrder(
      accountKeys.map((subject): RateCheck => ['typedCodesPerAccount', subject, rule]),
      now,
    );
  }

  /**
   * Compares a typed code under the typed-code budgets of `accountKeys` (narrowest first): takes the
   * try with {@link #spendCodeTry} BEFORE `attempt` compares the code, runs `attempt` only when the try
   * is allowed, and gives the try back when the result is not a wrong code. An attempt that throws
   * keeps its try: it has no verdict, and it may have compared the code before it failed, so giving
   * the try back could hand out a free guess (fail closed, as for any wrong code).
   */
  async withCodeTry(accountKeys: readonly string[], attempt: () => Promise<TypedCodeResult>, now = Date.now()): Promise<CodeTry> {
    const decision = await this.#spendCodeTry(accountKeys, now);
    if (!decision.allowed) return decision;
    const result = await attempt();
    if (!countsAsWrongCode(result)) await this.#refundCodeTry(accountKeys, now);
    return { allowed: true, result };
  }

  /** Gives back a try taken (from every budget) by an allowed {@link #spendCodeTry} that was not a wrong code (it was right, or never compared). */
  async #refundCodeTry(accountKeys: readonly string[], now = Date.now()): Promise<void> {
    const rule = this.settings.typedCodesPerAccount;
    await this.#refund(
      accountKeys.map((subject): RateCheck => ['typedCodesPerAccount', subject, rule]),
      now,
    );
  }

  /**
   * The send limits, narrowest first: the IP's budget belongs to the one client asking, the address's
   * to everyone who types it, the global one to all. No IP (`null`): the REST API's /send, whose
   * caller is the integrator's own server, sending for all its users; its codes come from a keyed /start.
   */
  #sendChecks(address: string, ip: string | null): RateCheck[] {
    return [
      ...(ip === null ? [] : [['sendPerIp', ip, this.settings.sendPerIp] satisfies RateCheck]),
      ['sendPerAddress', address.trim().toLowerCase(), this.settings.sendPerAddress],
      ['sendGlobal', 'all', this.settings.sendGlobal],
    ];
  }

  /** Takes back one event counted at `countedAt` (in that time's windows) by an allowed {@link #spendInOrder} of the same checks. */
  async #refund(checks: readonly RateCheck[], countedAt: number): Promise<void> {
    if (!this.settings.enabled) return;
    for (const [name, subject, rule] of checks) await this.counters.decrement(this.#window(name, subject, rule, countedAt).key, countedAt);
  }

  /** Counts the event against each limit in turn, narrowest first, and stops at the first that refuses it. */
  async #spendInOrder(checks: readonly RateCheck[], now: number): Promise<RateDecision> {
    if (!this.settings.enabled) return { allowed: true };
    for (const [name, subject, rule] of checks) {
      const { key, resetAt } = this.#window(name, subject, rule, now);
      const count = await this.counters.increment(key, resetAt);
      if (count > rule.limit) return denied(name, resetAt, now);
    }
    return { allowed: true };
  }

  #window(name: string, subject: string, rule: RateRule, now: number): { key: string; resetAt: number } {
    return fixedWindow(`rate:${name}:${subjectKey(subject)}`, rule, now);
  }
}
