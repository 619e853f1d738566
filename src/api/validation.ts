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
 * FusionAuth's kind of problem for one field: `missing` (absent), `blank` (empty or only
 * spaces), `tooLong`, or `invalid` (wrong type, format or value).
 */
function kindOf(issue: z.core.$ZodIssue, value: unknown): string {
  if (value === undefined || value === null) return 'missing';
  if (typeof value === 'string' && value.trim() === '') return 'blank';
  if (issue.code === 'too_big') return 'tooLong';
  return 'invalid';
}

function describe(kind: string, field: string, issue: z.core.$ZodIssue): string {
  switch (kind) {
    case 'missing':
      return `You must specify ${field}.`;
    case 'blank':
      return `${field} must not be blank.`;
    default:
      return `${field}: ${issue.message}`;
  }
}

/** Field errors of a failed parse, keyed by dotted field path, with codes like `[blank]loginId`. */
export function fieldErrorsOf(error: z.ZodError, input: unknown): FieldErrors {
  const out: FieldErrors = {};
  for (const issue of error.issues) {
    const field = issue.path.map(String).join('.') || 'body';
    const kind = kindOf(issue, valueAt(input, issue.path));
    const list = (out[field] ??= []);
    const code = `[${kind}]${field}`;
    if (!list.some((e) => e.code === code)) list.push({ code, message: describe(kind, field, issue) });
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
