import { randomInt } from 'node:crypto';
import type { CodeRepository, PasswordlessCodeRecord } from '../storage/types.js';
import { describeCode, type CodeLookup, type CodeProblem } from './codes.js';

/**
 * Cross-device approval by number matching (DESIGN.md §1.2). The state lives on the code
 * record's `extra`, so it expires with the code and every instance sees the same thing:
 *
 *   pending ──right number──▶ approved ──original tab continues──▶ (code status: used)
 *      └─────wrong number──▶ void        (the typed short code still works)
 *   any, while the code is active ──"this wasn't me"──▶ code status: denied
 */

export type ApprovalState = 'pending' | 'approved' | 'void';

/** Coarse facts about the browser that asked for the link; never a full IP address. */
export interface RequestContext {
  appName: string;
  /** e.g. "Chrome on Linux". */
  browser: string;
  /** e.g. "203.0.113.x". */
  network: string;
}

/** What this feature keeps in `extra` (top-level fields, so the store can match on `approval`). */
export interface CrossDeviceExtra {
  approval: ApprovalState;
  /** The two-digit number the original tab shows. Not a secret once shown, but never shown elsewhere. */
  pairNumber: string;
  requestedFrom: RequestContext;
  approvedAt?: number;
  /**
   * Digest of the email-form submission that asked for the code (its per-render form token and the
   * address), so a resubmission of that same form (a reload, Back then Forward) is recognised.
   */
  submission?: string;
}

/**
 * Where a sign-in stands, as the original tab's poll sees it. Only what someone with access
 * to the mailbox can cause is told apart; expiry, supersession and exhaustion read as
 * `waiting`, because a sign-in for an unknown address (no code at all) must look the same.
 */
export type SignInProgress = 'waiting' | 'approved' | 'void' | 'denied' | 'used';

export type ApprovalOutcome =
  | { ok: true; record: PasswordlessCodeRecord }
  | { ok: false; problem: CodeProblem | 'wrong_number' | 'already_approved' | 'approval_void' | 'no_approval' };

export const PAIR_NUMBER_PATTERN = /^\d{2}$/;

/** A fresh number for the original tab: 10–99, so it never starts with a confusing 0. */
export function newPairNumber(): string {
  return String(randomInt(10, 100));
}

/** The `extra` of a new code for a hosted sign-in; `submission` names the form submission that asked for it. */
export function crossDeviceExtra(pairNumber: string, requestedFrom: RequestContext, submission?: string): Record<string, unknown> {
  const extra: CrossDeviceExtra = { approval: 'pending', pairNumber, requestedFrom, ...(submission ? { submission } : {}) };
  return { ...extra };
}

/** The pair number of a sign-in's newest code while that code can still be used (typed, at least); null otherwise. */
export function pairNumberOfLiveCode(latest: CodeLookup): string | null {
  return latest.usable ? (crossDeviceOf(latest.record)?.pairNumber ?? null) : null;
}

/**
 * The pair number to show again when `submission` is the one the sign-in's newest code was asked
 * for and that code is still live (usable, its approval not voided); null when the submission
 * deserves a new code. Unknown addresses get a code too, so this reads the same for every address.
 */
export function pairNumberOfRepeat(latest: CodeLookup, submission: string): string | null {
  if (!latest.usable || latest.record.extra?.submission !== submission) return null;
  const crossDevice = crossDeviceOf(latest.record);
  return crossDevice && crossDevice.approval !== 'void' ? crossDevice.pairNumber : null;
}

/** The cross-device part of a record, or null when the code was not issued with one (e.g. API codes). */
export function crossDeviceOf(record: PasswordlessCodeRecord): CrossDeviceExtra | null {
  const extra = record.extra;
  if (!extra) return null;
  const { approval, pairNumber, requestedFrom } = extra as Partial<CrossDeviceExtra>;
  if (approval !== 'pending' && approval !== 'approved' && approval !== 'void') return null;
  if (typeof pairNumber !== 'string' || !PAIR_NUMBER_PATTERN.test(pairNumber)) return null;
  if (!requestedFrom || typeof requestedFrom !== 'object') return null;
  return { approval, pairNumber, requestedFrom };
}

/** The `extra` for a fresh link of the same sign-in: same number and context, approval open again. */
export function extraForFreshLink(record: PasswordlessCodeRecord): Record<string, unknown> | undefined {
  const current = crossDeviceOf(record);
  return current ? crossDeviceExtra(current.pairNumber, current.requestedFrom) : undefined;
}

/** What the original tab should be told about the newest code of its sign-in. */
export function progressOf(record: PasswordlessCodeRecord | null, now: number): SignInProgress {
  if (!record) return 'waiting';
  const lookup = describeCode(record, now);
  if (!lookup.usable) return lookup.problem === 'denied' || lookup.problem === 'used' ? lookup.problem : 'waiting';
  const approval = crossDeviceOf(record)?.approval;
  return approval === 'approved' || approval === 'void' ? approval : 'waiting';
}

/**
 * What the original tab's "continue" button is told: what the poll says, except that a code which
 * expired after the other device approved it (or typed a wrong number) is `expired`. Only someone
 * who opened the emailed link can bring a code there, so saying so tells nothing about the address;
 * a code nobody acted on still reads `waiting` once expired, like the sign-in of an unknown address.
 */
export function continueProgressOf(record: PasswordlessCodeRecord | null, now: number): SignInProgress | 'expired' {
  const progress = progressOf(record, now);
  if (progress !== 'waiting' || !record) return progress;
  const lookup = describeCode(record, now);
  if (lookup.usable || lookup.problem !== 'expired') return progress;
  const approval = crossDeviceOf(record)?.approval;
  return approval === 'approved' || approval === 'void' ? 'expired' : progress;
}

export class CrossDeviceApprovals {
  constructor(private readonly codes: CodeRepository) {}

  /**
   * The other device typed `typedNumber`. The right number approves, once; a wrong one voids
   * the approval path of this code for good (the code itself stays usable by typing it).
   */
  async approve(record: PasswordlessCodeRecord, typedNumber: string, now = Date.now()): Promise<ApprovalOutcome> {
    const current = crossDeviceOf(record);
    if (!current) return { ok: false, problem: 'no_approval' };
    // The number is part of the condition, so checking it and approving is one atomic step.
    const approved = await this.codes.compareAndSet(
      record.id,
      { status: 'active', unexpiredAt: now, extraFields: { approval: 'pending', pairNumber: typedNumber } },
      { extra: { ...record.extra, approval: 'approved', approvedAt: now } },
    );
    if (approved) return { ok: true, record: approved };

    const voided = await this.codes.compareAndSet(
      record.id,
      { status: 'active', unexpiredAt: now, extraFields: { approval: 'pending' } },
      { extra: { ...record.extra, approval: 'void' } },
    );
    if (voided) return { ok: false, problem: 'wrong_number' };
    return this.#whyNot(record.id, now);
  }

  /** "This wasn't me": the code can no longer be used in any way. */
  async deny(record: PasswordlessCodeRecord, now = Date.now()): Promise<ApprovalOutcome> {
    const denied = await this.codes.compareAndSet(record.id, { status: 'active', unexpiredAt: now }, { status: 'denied' });
    if (denied) return { ok: true, record: denied };
    return this.#whyNot(record.id, now);
  }

  /** Redeems an approved code for the original tab; exactly one caller can win. */
  async redeemApproved(record: PasswordlessCodeRecord, now = Date.now()): Promise<ApprovalOutcome> {
    const redeemed = await this.codes.compareAndSet(
      record.id,
      { status: 'active', unexpiredAt: now, extraFields: { approval: 'approved' } },
      { status: 'used', usedAt: now },
    );
    if (redeemed) return { ok: true, record: redeemed };
    return this.#whyNot(record.id, now);
  }

  async #whyNot(id: string, now: number): Promise<ApprovalOutcome> {
    const lookup = describeCode(await this.codes.findById(id, now), now);
    if (!lookup.usable) return { ok: false, problem: lookup.problem };
    const approval = crossDeviceOf(lookup.record)?.approval;
    if (approval === 'approved') return { ok: false, problem: 'already_approved' };
    if (approval === 'void') return { ok: false, problem: 'approval_void' };
    return { ok: false, problem: 'no_approval' };
  }
}
