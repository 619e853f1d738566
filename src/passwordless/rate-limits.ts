import { hash } from 'node:crypto';
import type { CounterRepository } from '../storage/types.js';
import { log } from '../log.js';

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

export type RateDecision = { allowed: true } | { allowed: false; rule: string; retryAfterSeconds: number };

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
 * Each check counts the event; a denied event still counts, so hammering does not help.
 */
export class RateLimiter {
  constructor(
    private readonly counters: CounterRepository,
    readonly settings: RateLimitSettings,
  ) {}

  /** Counts one email send for this address and IP against the per-address, per-IP and global limits. */
  async allowSend(address: string, ip: string, now = Date.now()): Promise<RateDecision> {
    return this.#checkAll(
      [
        ['sendGlobal', 'all', this.settings.sendGlobal],
        ['sendPerIp', ip, this.settings.sendPerIp],
        ['sendPerAddress', address.trim().toLowerCase(), this.settings.sendPerAddress],
      ],
      now,
    );
  }

  /**
   * Takes one typed-code try from the budget of each subject (e.g. the address and the account)
   * BEFORE the code is compared, so concurrent guesses cannot all pass a check made earlier.
   * Denied when any one budget is spent; a denied try still counts, so hammering does not help.
   * A try that turns out not to be a wrong code is given back with {@link refundCodeTry}.
   */
  async spendCodeTry(accountKeys: readonly string[], now = Date.now()): Promise<RateDecision> {
    if (!this.settings.enabled) return { allowed: true };
    const rule = this.settings.typedCodesPerAccount;
    let decision: RateDecision = { allowed: true };
    // Every subject is charged, even after one refused: each budget counts every try made against it.
    for (const subject of accountKeys) {
      const { key, resetAt } = this.#window('typedCodesPerAccount', subject, rule, now);
      const count = await this.counters.increment(key, resetAt);
      if (count > rule.limit && decision.allowed) decision = denied('typedCodesPerAccount', resetAt, now);
    }
    return decision;
  }

  /** Gives back a try taken by {@link spendCodeTry} that was not a wrong code (it was right, or never compared). */
  async refundCodeTry(accountKeys: readonly string[], now = Date.now()): Promise<void> {
    if (!this.settings.enabled) return;
    const rule = this.settings.typedCodesPerAccount;
    for (const subject of accountKeys) await this.counters.decrement(this.#window('typedCodesPerAccount', subject, rule, now).key, now);
  }

  async #checkAll(checks: [string, string, RateRule][], now: number): Promise<RateDecision> {
    if (!this.settings.enabled) return { allowed: true };
    for (const [name, subject, rule] of checks) {
      const { key, resetAt } = this.#window(name, subject, rule, now);
      const count = await this.counters.increment(key, resetAt);
      if (count > rule.limit) return denied(name, resetAt, now);
    }
    return { allowed: true };
  }

  #window(name: string, subject: string, rule: RateRule, now: number): { key: string; resetAt: number } {
    const windowMs = rule.windowSeconds * 1000;
    const start = Math.floor(now / windowMs) * windowMs;
    return { key: `rate:${name}:${subjectKey(subject)}:${start}`, resetAt: start + windowMs };
  }
}
