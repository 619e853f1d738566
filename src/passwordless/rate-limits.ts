import { hash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
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
  /** Wrong typed codes from one client address (an IPv6 /64), across every account it tries. */
  wrongCodesPerIp: RateRule;
  /** Wrong typed codes from everyone together: the last brake on guessing spread over many addresses. */
  wrongCodesGlobal: RateRule;
}

/**
 * One limit to ask: the rule's name (what a refusal reports), the counter key prefix of the budget
 * it counts against (whose budget it is), the rule.
 */
export type RateCheck = [name: string, keyPrefix: string, rule: RateRule];

/** A limit of the {@link RateLimiter}: its rule's name, whose budget it is (hashed into the key), the rule. */
type SubjectLimit = [name: string, subject: string, rule: RateRule];

export type RateDecision = { allowed: true } | { allowed: false; rule: string; retryAfterSeconds: number };

/**
 * A cap on the sends of one code over its life (the REST API's /send): at most `limit`, counted
 * under `key` until `expiresAt` (the code's). It holds even with rate limits off: it is part of what
 * a code allows, not a rate.
 */
export interface SendCap {
  key: string;
  limit: number;
  expiresAt: number;
}

/** The rule an {@link RateLimiter.allowSend} refused by its {@link SendCap} names: waiting does not help, the code expires first. */
export const SENDS_PER_CODE_RULE = 'sendsPerCode';

/** How an attempt fared under its budgets: refused before it ran, or run, with its result. */
export type Tried<T> = { allowed: true; result: T } | Extract<RateDecision, { allowed: false }>;

/** How a typed code fared under the budgets: refused before it was compared, or compared, with the result. */
export type CodeTry = Tried<TypedCodeResult>;

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
function fixedWindow(keyPrefix: string, rule: RateRule, now: number): { key: string; resetAt: number } {
  const windowMs = rule.windowSeconds * 1000;
  const start = Math.floor(now / windowMs) * windowMs;
  return { key: `${keyPrefix}:${start}`, resetAt: start + windowMs };
}

/** Counts the event against each limit in turn, narrowest first, and stops at the first that refuses it (the refusal still counts there). */
async function spendInOrder(counters: CounterRepository, checks: readonly RateCheck[], now: number): Promise<RateDecision> {
  for (const [name, keyPrefix, rule] of checks) {
    const { key, resetAt } = fixedWindow(keyPrefix, rule, now);
    const count = await counters.increment(key, resetAt);
    if (count > rule.limit) return denied(name, resetAt, now);
  }
  return { allowed: true };
}

/** Takes back one event counted at `countedAt` (in that time's windows) by an allowed {@link spendInOrder} of the same checks. */
async function refund(counters: CounterRepository, checks: readonly RateCheck[], countedAt: number): Promise<void> {
  for (const [, keyPrefix, rule] of checks) await counters.decrement(fixedWindow(keyPrefix, rule, countedAt).key, countedAt);
}

/**
 * Runs `attempt` (which checks a secret: a typed code, a second factor) under the budgets of `checks`,
 * narrowest first. It takes one try from each budget BEFORE the attempt runs, so concurrent guesses
 * cannot all pass a check made earlier; a try a budget refuses never runs, still counts against that
 * budget and takes nothing from the ones after it. A try whose result `isWrong` does not call wrong
 * (right, or never compared) is given back. An attempt that throws keeps its try: it has no verdict,
 * and it may have compared the secret before it failed, so giving the try back could hand out a free
 * guess (fail closed, as for any wrong answer). No checks: the attempt runs, nothing is counted.
 */
export async function withTry<T>(
  counters: CounterRepository,
  checks: readonly RateCheck[],
  attempt: () => Promise<T>,
  isWrong: (result: T) => boolean,
  now: number,
): Promise<Tried<T>> {
  const decision = await spendInOrder(counters, checks, now);
  if (!decision.allowed) return decision;
  const result = await attempt();
  if (!isWrong(result)) await refund(counters, checks, now);
  return { allowed: true, result };
}

/** Whole minutes to wait, at least one, for a page that says "please wait N minutes". */
export function minutesToWait(retryAfterSeconds: number): number {
  return Math.max(1, Math.ceil(retryAfterSeconds / 60));
}

/** The hosted pages' typed-code budget key of a typed address (its code owner: see hostedCodeOwner). */
export const addressBudget = (codeOwner: string): string => `address:${codeOwner}`;
/** The hosted pages' typed-code budget key of an account (anonymous guesses there never spend the API's). */
export const hostedAccountBudget = (userId: string): string => `hosted-user:${userId}`;
/** The REST API's typed-code budget key of an account. */
export const accountBudget = (userId: string): string => `user:${userId}`;

/**
 * Who a client address is for a per-IP budget: an IPv4 address as it is (an IPv4-mapped IPv6 one
 * too), an IPv6 address by its /64, the block one subscriber usually holds whole (keyed by the
 * address itself, anyone with a /64 would have 2^64 budgets).
 */
export function ipBudgetSubject(ip: string): string {
  const address = ip.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped && isIPv4(mapped)) return mapped;
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = address.includes('::') ? (tail ? tail.split(':') : []) : [];
  // An embedded IPv4 tail (::1.2.3.4) is two groups; it lies past the /64 and is left out anyway.
  const groups = [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((group) => group.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

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
   * `perCode`, the cap on the sends of one code, is counted first, and given back when it or a later
   * limit refuses the send (a send refused is no send of the code); its refusal names
   * {@link SENDS_PER_CODE_RULE} and is not logged as a limit hit.
   */
  async allowSend(address: string, ip: string | null, now = Date.now(), perCode: SendCap | null = null): Promise<RateDecision> {
    if (perCode && !(await this.#takeCodeSend(perCode, now))) {
      return { allowed: false, rule: SENDS_PER_CODE_RULE, retryAfterSeconds: Math.max(1, Math.ceil((perCode.expiresAt - now) / 1000)) };
    }
    const decision = await spendInOrder(this.counters, this.#sendChecks(address, ip), now);
    if (!decision.allowed && perCode) await this.counters.decrement(perCode.key, now);
    return decision;
  }

  /**
   * Gives back an email counted at `countedAt` by an allowed {@link allowSend} (with the same
   * `perCode`) that was not sent (the mail server was down or refused it): only emails that went
   * out count. It is counted before the send, not after, so concurrent sends still cannot pass a limit together.
   */
  async refundSend(address: string, ip: string | null, countedAt: number, perCode: SendCap | null = null): Promise<void> {
    if (perCode) await this.counters.decrement(perCode.key, countedAt);
    await refund(this.counters, this.#sendChecks(address, ip), countedAt);
  }

  /**
   * Compares a typed code under the typed-code budgets of `accountKeys`, narrowest first (e.g. the
   * address, then the account it may belong to, which the API shares), with {@link withTry}: the try
   * is taken BEFORE `attempt` compares the code, and given back unless the code was wrong.
   */
  async withCodeTry(accountKeys: readonly string[], attempt: () => Promise<TypedCodeResult>, now = Date.now(), ip: string | null = null): Promise<CodeTry> {
    return withTry(this.counters, this.#codeChecks(accountKeys, ip), attempt, countsAsWrongCode, now);
  }

  /** Counts one send of a code; one past the cap is taken back at once and refused. */
  async #takeCodeSend({ key, limit, expiresAt }: SendCap, now: number): Promise<boolean> {
    if ((await this.counters.increment(key, expiresAt)) <= limit) return true;
    await this.counters.decrement(key, now);
    return false;
  }

  /**
   * The send limits, narrowest first: the IP's budget belongs to the one client asking, the address's
   * to everyone who types it, the global one to all. No IP (`null`): the REST API's /send, whose
   * caller is the integrator's own server, sending for all its users; its codes come from a keyed /start.
   */
  #sendChecks(address: string, ip: string | null): RateCheck[] {
    // The hosted pages (anonymous) and the API (keyed) count apart: a visitor who spends an
    // address's hosted emails never blocks the emails the integrator sends.
    const channel = ip === null ? 'api' : 'hosted';
    return this.#checks([
      ...(ip === null ? [] : [['sendPerIp', ipBudgetSubject(ip), this.settings.sendPerIp] satisfies SubjectLimit]),
      ['sendPerAddress', `${channel}:${address.trim().toLowerCase()}`, this.settings.sendPerAddress],
      ['sendGlobal', channel, this.settings.sendGlobal],
    ]);
  }

  /** The typed-code budgets, narrowest first: the client address's, those of `accountKeys` in the caller's order, everyone's. */
  #codeChecks(accountKeys: readonly string[], ip: string | null): RateCheck[] {
    return this.#checks([
      ...(ip === null ? [] : [['wrongCodesPerIp', ipBudgetSubject(ip), this.settings.wrongCodesPerIp] satisfies SubjectLimit]),
      ...accountKeys.map((subject): SubjectLimit => ['typedCodesPerAccount', subject, this.settings.typedCodesPerAccount]),
      ['wrongCodesGlobal', 'all', this.settings.wrongCodesGlobal],
    ]);
  }

  /** Limits named by rule and subject, keyed under the hashed subject; none when rate limits are off. */
  #checks(limits: readonly SubjectLimit[]): RateCheck[] {
    if (!this.settings.enabled) return [];
    return limits.map(([name, subject, rule]): RateCheck => [name, `rate:${name}:${subjectKey(subject)}`, rule]);
  }
}
