import type { z } from 'zod';
import { AppError } from '../http/errors.js';

type FieldErrors = Record<string, { code: string; message: string }[]>;

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current = input;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/**
 * FusionAuth's code for the problem with one field: `blank` (absent, null, empty or only spaces:
 * FusionAuth does not tell absent from empty), `notEmail` (an email address that is not one),
 * `couldNotConvert` (an id that is no UUID), `tooLong`, or `invalid` (wrong type, format or value).
 */
function kindOf(issue: z.core.$ZodIssue, value: unknown): string {
  if (value === undefined || value === null) return 'blank';
  if (typeof value === 'string' && value.trim() === '') return 'blank';
  if (issue.code === 'too_big') return 'tooLong';
  if (issue.code === 'invalid_format' && issue.format === 'email') return 'notEmail';
  if (issue.code === 'invalid_format' && issue.format === 'uuid') return 'couldNotConvert';
  return 'invalid';
}

function describe(kind: string, field: string, issue: z.core.$ZodIssue, value: unknown): string {
  if (kind === 'blank') return value === undefined || value === null ? `You must specify ${field}.` : `${field} must not be blank.`;
  if (kind === 'notEmail') return `${field} must be an email address.`;
  if (kind === 'couldNotConvert') return `${field} must be a UUID.`;
  return `${field}: ${issue.message}`;
}

/** Field errors of a failed parse, keyed by dotted field path, with codes like `[blank]loginId`. */
export function fieldErrorsOf(error: z.ZodError, input: unknown): FieldErrors {
  const out: FieldErrors = {};
  for (const issue of error.issues) {
    const field = issue.path.map(String).join('.') || 'body';
    const value = valueAt(input, issue.path);
    const kind = kindOf(issue, value);
    const list = (out[field] ??= []);
    const code = `[${kind}]${field}`;
    if (!list.some((e) => e.code === code)) list.push({ code, message: describe(kind, field, issue, value) });
  }
  return out;
}

/** A 400 in the API's shape for field problems found outside a schema (unknown application, duplicate email…). */
export function fieldError(field: string, kind: string, message: string): AppError {
  return new AppError(400, 'InvalidRequest', 'The request is not valid.', { [field]: [{ code: `[${kind}]${field}`, message }] });
}

/** Parses a request body (or query) with a schema; throws a 400 with FusionAuth field errors when it does not fit. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  throw new AppError(400, 'InvalidRequest', 'The request is not valid.', fieldErrorsOf(result.error, input ?? {}));
}
