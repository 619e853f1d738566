import { derivedOnce } from '../memo.js';
import { z } from 'zod';
import type { PasswordlessCodeRecord } from '../storage/types.js';

/**
 * Sign-up with a magic link, per client: an address with no account gets a "create your
 * account" email instead of nothing, on clients whose metadata has `self_service_registration`.
 * The account is made only when the form the link leads to is sent, never before.
 */

/** The profile fields a sign-up form can ask for. */
export const SIGN_UP_FIELDS = ['firstName', 'lastName', 'fullName', 'middleName'] as const;
export type SignUpField = (typeof SIGN_UP_FIELDS)[number];

/** Longest value a sign-up field takes (as the users API). */
export const SIGN_UP_FIELD_MAX = 200;

const fieldSpec = z.union([z.enum(SIGN_UP_FIELDS), z.object({ name: z.enum(SIGN_UP_FIELDS), required: z.boolean() }).strict()]);

/**
 * The client metadata `self_service_registration`: `true`, or `{ enabled, fields, terms_url,
 * default_roles }`; `fields` lists what the form asks, each a name (optional) or
 * `{ name, required }`.
 */
export const signUpSettingsSchema = z.union([
  z.boolean(),
  z
    .object({
      enabled: z.boolean(),
      fields: z
        .array(fieldSpec)
        .max(SIGN_UP_FIELDS.length)
        .refine((fields) => new Set(fields.map((f) => (typeof f === 'string' ? f : f.name))).size === fields.length, 'a field is named twice')
        .optional(),
      terms_url: z.url().refine((url) => /^https?:/.test(url), 'must be an http(s) URL').optional(),
      default_roles: z.array(z.string().min(1).max(100)).max(50).optional(),
    })
    .strict(),
]);

export interface SignUpSettings {
  fields: { name: SignUpField; required: boolean }[];
  /** The terms a new user must accept (a checkbox on the form); null asks for none. */
  termsUrl: string | null;
  /** Roles of the registration for this client that a new account gets. */
  defaultRoles: string[];
}

/** Settings read from a client's `self_service_registration` object, by that object: the email form asks on every render. */
const settingsOfObject = derivedOnce((setting: object) => parseSettings(setting));

/** A client's sign-up settings from its metadata; null when it lets no one sign up (the default) or the setting is malformed. */
export function signUpSettingsOf(metadata: Readonly<Record<string, unknown>> | undefined): SignUpSettings | null {
  const setting = metadata?.self_service_registration;
  if (setting === undefined || setting === false) return null;
  if (typeof setting !== 'object' || setting === null) return parseSettings(setting);
  return settingsOfObject(setting);
}

function parseSettings(setting: unknown): SignUpSettings | null {
  const parsed = signUpSettingsSchema.safeParse(setting);
  if (!parsed.success || parsed.data === false) return null;
  if (parsed.data === true) return { fields: [], termsUrl: null, defaultRoles: [] };
  if (!parsed.data.enabled) return null;
  return {
    fields: (parsed.data.fields ?? []).map((f) => (typeof f === 'string' ? { name: f, required: false } : f)),
    termsUrl: parsed.data.terms_url ?? null,
    defaultRoles: parsed.data.default_roles ?? [],
  };
}

/** The client's sign-up settings when a new address may create an account there: accounts can be made (`createAccount`) and the client allows it. */
export function signUpSettingsFor(accounts: { createAccount?: unknown }, client: { metadata?: Readonly<Record<string, unknown>> }): SignUpSettings | null {
  return accounts.createAccount ? signUpSettingsOf(client.metadata) : null;
}

/** What a verified sign-up hands to whoever makes accounts. */
export interface SignUpInput {
  /** The address the link went to, as typed (trimmed): verified by opening the link. */
  email: string;
  fields: Partial<Record<SignUpField, string>>;
  roles: string[];
}

/** The `extra` of a sign-up code: the address it creates an account for, and whether the form was sent. */
export const SIGN_UP_EMAIL = 'signUpEmail';
export const SIGN_UP_STAGE = 'signUpStage';

export function signUpExtra(email: string): Record<string, string> {
  return { [SIGN_UP_EMAIL]: email, [SIGN_UP_STAGE]: 'pending' };
}

/** The address a code signs up, or null for a sign-in code. */
export function signUpEmailOf(record: Pick<PasswordlessCodeRecord, 'extra'>): string | null {
  const email = record.extra?.[SIGN_UP_EMAIL];
  return typeof email === 'string' ? email : null;
}

/** One thing wrong with a sent form: the field it is about (null: the whole form, e.g. an expired token) and the message's key. */
export type SignUpFormProblem = { field: SignUpField | 'terms' | null; key: string };

/** The form's values, checked against the settings: the values, or the first problem (by field). */
export function readSignUpForm(settings: SignUpSettings, form: Record<string, unknown>): { ok: true; fields: Partial<Record<SignUpField, string>> } | { ok: false; problems: SignUpFormProblem[]; values: Record<string, string> } {
  const fields: Partial<Record<SignUpField, string>> = {};
  const values: Record<string, string> = {};
  const problems: SignUpFormProblem[] = [];
  for (const { name, required } of settings.fields) {
    const raw = form[name];
    const value = typeof raw === 'string' ? raw.trim() : '';
    values[name] = value.slice(0, SIGN_UP_FIELD_MAX);
    if (value.length > SIGN_UP_FIELD_MAX) problems.push({ field: name, key: 'signUp.tooLong' });
    else if (/[\u0000-\u001f\u007f]/.test(value)) problems.push({ field: name, key: 'signUp.invalid' });
    else if (value) fields[name] = value;
    else if (required) problems.push({ field: name, key: 'signUp.required' });
  }
  if (settings.termsUrl && form.terms !== 'accepted') problems.push({ field: 'terms', key: 'signUp.termsRequired' });
  return problems.length > 0 ? { ok: false, problems, values } : { ok: true, fields };
}
