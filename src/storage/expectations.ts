import type { CodeExpectation, PasswordlessCodeRecord } from './types.js';

/** Whether a code record meets the conditions of a conditional update (used by the memory store and tests). */
export function codeMeetsExpectation(record: PasswordlessCodeRecord, expect: CodeExpectation): boolean {
  if (expect.status !== undefined && record.status !== expect.status) return false;
  if (expect.unexpiredAt !== undefined && record.expiresAt <= expect.unexpiredAt) return false;
  if (expect.shortHash !== undefined && record.shortHash !== expect.shortHash) return false;
  if (expect.attemptsBelow !== undefined && record.attempts >= expect.attemptsBelow) return false;
  if (expect.extraFields !== undefined && !extraFieldsMatch(record.extra, expect.extraFields)) return false;
  return true;
}

function extraFieldsMatch(extra: Record<string, unknown> | undefined, wanted: Record<string, string | number | boolean>): boolean {
  return Object.entries(wanted).every(([name, value]) => extra !== undefined && Object.hasOwn(extra, name) && extra[name] === value);
}

/**
 * Whether code `a` was issued before code `b` in the order that decides which of an owner's codes
 * is the newest: `sequence` (counted in the store), then `id` for equal ones (any fixed tie-break
 * will do, as long as every store and every instance uses the same one).
 */
export function codeIsOlder(a: Pick<PasswordlessCodeRecord, 'sequence' | 'id'>, b: Pick<PasswordlessCodeRecord, 'sequence' | 'id'>): boolean {
  return a.sequence < b.sequence || (a.sequence === b.sequence && a.id < b.id);
}
