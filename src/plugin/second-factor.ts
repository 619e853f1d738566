import { hash, randomBytes } from 'node:crypto';
import type { CounterRepository } from '../storage/types.js';
import type { SecondFactorCheck } from '../provider/two-factor-prompt.js';
import type { VerifyResult } from '../accounts/two-factor.js';
import { TOTP_PERIOD_SECONDS, totpStepOf } from '../accounts/totp.js';
import type { MagicLinkSecondFactor } from './options.js';

const digest = (value: string) => hash('sha256', value, 'base64url');

/**
 * The hosted step's view of the host's second factor. With `secretOf` the plugin checks TOTP codes
 * itself and spends each time step once (a counter per account and step, kept while the step could
 * still be accepted); trusted devices are counters too, unless the host keeps its own.
 */
export function secondFactorCheck(option: MagicLinkSecondFactor, counters: CounterRepository, trustTimeToLiveInSeconds: number): SecondFactorCheck {
  const trustKey = (accountId: string, trustId: string) => `2fa-trust:${digest(accountId)}:${digest(trustId)}`;
  const trust = {
    async trustDevice(accountId: string): Promise<string> {
      const trustId = randomBytes(32).toString('base64url');
      await counters.increment(trustKey(accountId, trustId), Date.now() + trustTimeToLiveInSeconds * 1000);
      return trustId;
    },
    async isTrusted(accountId: string, trustId: string | null | undefined): Promise<boolean> {
      if (!trustId || trustId.length > 128) return false;
      return (await counters.get(trustKey(accountId, trustId), Date.now())) > 0;
    },
  };

  if ('secretOf' in option) {
    const secretOf = async (accountId: string) => (await option.secretOf(accountId)) || null;
    return {
      trustTimeToLiveInSeconds,
      ...trust,
      isEnrolled: async (accountId) => (await secretOf(accountId)) !== null,
      async verify(accountId, code): Promise<VerifyResult> {
        const secret = await secretOf(accountId);
        if (!secret) return { ok: false, problem: 'not_enrolled' };
        const now = Date.now();
        const step = totpStepOf(secret, code.trim(), now);
        if (step === null) return { ok: false, problem: 'wrong' };
        // The first to count a step has it; a replay of the same code counts 2.
        const keptUntil = (step + 2) * TOTP_PERIOD_SECONDS * 1000;
        const uses = await counters.increment(`2fa-step:${digest(accountId)}:${step}`, Math.max(keptUntil, now + 1000));
        return uses === 1 ? { ok: true, kind: 'otp' } : { ok: false, problem: 'wrong' };
      },
    };
  }
  const host = option;
  return {
    trustTimeToLiveInSeconds,
    isEnrolled: (accountId) => host.isEnrolled(accountId),
    async verify(accountId, code): Promise<VerifyResult> {
      const answer = await host.verify(accountId, code);
      return answer === 'otp' || answer === 'recovery_code' ? { ok: true, kind: answer } : { ok: false, problem: answer };
    },
    trustDevice: host.trustDevice ? (accountId) => host.trustDevice!(accountId) : trust.trustDevice,
    isTrusted: host.isTrusted ? async (accountId, trustId) => Boolean(trustId) && host.isTrusted!(accountId, trustId!) : trust.isTrusted,
  };
}
