import { hash } from 'node:crypto';
import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import type { CounterRepository } from '../storage/types.js';
import type { VerifyResult } from '../accounts/two-factor.js';

/**
 * The second-factor step of the hosted sign-in: a prompt after `login` and before `consent`.
 * The magic link finishes `login` with amr ["email"]; this prompt stays pending until the
 * session's amr holds "otp" too, so a browser that stops after the link has no usable session.
 */

export const TWO_FACTOR_PROMPT = 'two_factor';
/** The user must give a code. */
export const REASON_REQUIRED = 'two_factor_required';
/** The client demands multi-factor, but the user has no second factor to give. */
export const REASON_UNAVAILABLE = 'two_factor_unavailable';

/** The acr of a sign-in with a second factor; a client asks for one with acr_values. */
export const ACR_MULTI_FACTOR = 'urn:oidc-magic-link:acr:mfa';
export const AMR_SECOND_FACTOR = 'otp';

/** The signed cookie that marks a device the user chose to trust. */
export const TRUST_COOKIE = 'oml.2fa-trust';

/**
 * What the hosted step needs of a second factor, wherever the authenticators live (our users
 * store in the server, the host's accounts in the plugin).
 */
export interface SecondFactorCheck {
  /** How long a trusted device skips the step. */
  readonly trustTimeToLiveInSeconds: number;
  isEnrolled(accountId: string): Promise<boolean>;
  verify(accountId: string, code: string): Promise<VerifyResult>;
  /** Remembers a device the user trusts; returns the trust id (the cookie's value). */
  trustDevice(accountId: string): Promise<string>;
  isTrusted(accountId: string, trustId: string | null | undefined): Promise<boolean>;
}

function sessionHasSecondFactor(ctx: KoaContextWithOIDC): boolean {
  return (ctx.oidc.session?.amr ?? []).includes(AMR_SECOND_FACTOR);
}

/**
 * The second-factor step belongs to a login (one magic link), not to one interaction: the
 * browser's session keeps that login, and every new authorization request from it opens a new
 * interaction at the step. So its wrong codes and a decline are counted under the session's
 * id (its cookie value), which node-oidc-provider renews at every new login; in the store, so
 * every instance sees them. A void login must sign in again (see voidedLoginCheck).
 */
export class SecondFactorTries {
  constructor(
    private readonly counters: CounterRepository,
    /** Wrong codes before a login's second-factor step is void. */
    readonly maxAttempts: number,
  ) {}

  // The session id is its cookie value, a bearer secret: the keys hold a digest of it.
  private static loginKey = (sessionId: string) => `2fa-login:${hash('sha256', sessionId, 'base64url')}`;

  /** Whether this login's step is void: too many wrong codes, or the user declined it. */
  async voided(sessionId: string, now = Date.now()): Promise<boolean> {
    return (await this.counters.get(`${SecondFactorTries.loginKey(sessionId)}:void`, now)) > 0;
  }

  /**
   * Counts a try before its code is checked; returns the count. Kept until `expiresAt`, the
   * session's end. The try that reaches the limit also sets the void key, so the check that
   * runs on authorization requests reads one key.
   */
  async count(sessionId: string, expiresAt: number): Promise<number> {
    const login = SecondFactorTries.loginKey(sessionId);
    const count = await this.counters.increment(`${login}:wrong`, expiresAt);
    if (count >= this.maxAttempts) await this.counters.increment(`${login}:void`, expiresAt);
    return count;
  }

  /** The user left the step: this login cannot go on. */
  async decline(sessionId: string, expiresAt: number): Promise<void> {
    await this.counters.increment(`${SecondFactorTries.loginKey(sessionId)}:void`, expiresAt);
  }
}

/** Set by findAccount on the account node-oidc-provider keeps for the request: whether the user has a second factor. */
export const HAS_SECOND_FACTOR = 'hasSecondFactor';

/**
 * For the login prompt: a session whose login lacks the second factor and whose step is void
 * (too many wrong codes, or declined) must sign in again with a new magic link; without this a
 * new authorization request from the same browser would give the step fresh tries.
 */
export function voidedLoginCheck(tries: SecondFactorTries): InstanceType<typeof interactionPolicy.Check> {
  return new interactionPolicy.Check('second_factor_void', 'the second factor of this sign-in was not given', 'login_required', async (ctx: KoaContextWithOIDC) => {
    const session = ctx.oidc.session;
    // Only a user with a second factor has a step that can be void: the others cost no read.
    if (!session?.accountId || sessionHasSecondFactor(ctx) || ctx.oidc.account?.[HAS_SECOND_FACTOR] !== true) return false;
    return tries.voided(session.jti);
  });
}

function multiFactorDemanded(ctx: KoaContextWithOIDC): boolean {
  const values = ctx.oidc.params?.acr_values;
  return typeof values === 'string' && values.split(' ').includes(ACR_MULTI_FACTOR);
}

export function twoFactorPrompt(secondFactor: SecondFactorCheck): InstanceType<typeof interactionPolicy.Prompt> {
  const { Prompt, Check } = interactionPolicy;

  /** The signed-in account, when this session still lacks a second factor: its id and whether it has an authenticator. */
  async function accountWithoutSecondFactor(ctx: KoaContextWithOIDC): Promise<{ id: string; enrolled: boolean } | null> {
    const accountId = ctx.oidc.session?.accountId;
    if (!accountId || sessionHasSecondFactor(ctx)) return null;
    // findAccount may have said already (the server's does), which spares a look-up.
    const known = ctx.oidc.account?.[HAS_SECOND_FACTOR];
    return { id: accountId, enrolled: typeof known === 'boolean' ? known : await secondFactor.isEnrolled(accountId) };
  }

  return new Prompt(
    { name: TWO_FACTOR_PROMPT, requestable: false },
    new Check(REASON_REQUIRED, 'a second factor is required', 'interaction_required', async (ctx: KoaContextWithOIDC) => {
      const account = await accountWithoutSecondFactor(ctx);
      if (!account?.enrolled) return false;
      // A trusted device skips the step, unless the client demands multi-factor for this sign-in.
      if (multiFactorDemanded(ctx)) return true;
      const trustId = ctx.cookies.get(TRUST_COOKIE, { signed: true });
      return !(await secondFactor.isTrusted(account.id, trustId));
    }),
    new Check(REASON_UNAVAILABLE, 'the client requires a second factor the user does not have', 'unmet_authentication_requirements', async (ctx: KoaContextWithOIDC) => {
      if (!multiFactorDemanded(ctx)) return false;
      const account = await accountWithoutSecondFactor(ctx);
      return account !== null && !account.enrolled;
    }),
  );
}
