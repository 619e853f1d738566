import type { Context } from 'koa';
import { koaBody } from 'koa-body';
import { PAIR_NUMBER_PATTERN } from '../passwordless/approval.js';
import { normalizeEmail } from '../storage/types.js';

/** Form bodies only; node-oidc-provider's own routes never pass through this parser. */
export const parseForm = koaBody({ urlencoded: true, json: false, text: false, multipart: false, formLimit: '16kb' });

/** A link code as it may appear in a path or a form; anything else is not ours. */
export const linkCodeParam = /^[\w-]{1,256}$/;

export function formField(ctx: Context, name: string): unknown {
  const body = ctx.request.body as Record<string, unknown> | undefined;
  return body?.[name];
}

/** A form field as text: '' when absent or not a string. */
export function formText(ctx: Context, name: string): string {
  const value = formField(ctx, name);
  return typeof value === 'string' ? value : '';
}

export function uidOf(ctx: Context): string {
  return (ctx.params as Record<string, string>).uid ?? '';
}

/** The link code a form carried, if well-formed. */
export function linkCodeOf(ctx: Context): string | null {
  const value = formField(ctx, 'code');
  return typeof value === 'string' && linkCodeParam.test(value) ? value : null;
}

/** The pair number a "check your inbox" form carried back, if well-formed. */
export function pairNumberOf(ctx: Context): string {
  const value = formField(ctx, 'pair');
  return typeof value === 'string' && PAIR_NUMBER_PATTERN.test(value) ? value : '';
}

/**
 * The forms of the "check your inbox" page are bound to the sign-in and to the number the
 * page shows, so the number shown again after a POST is the one the server handed out.
 */
export function checkInboxBinding(uid: string, pairNumber: string): string {
  return `${uid}/${pairNumber}`;
}

/**
 * The typed-code form is bound to the address as well: the wrong-code budget is kept per
 * address, and an edited address must not open a fresh budget.
 */
export function codeFormBinding(uid: string, pairNumber: string, email: string): string {
  return `${checkInboxBinding(uid, pairNumber)}/${normalizeEmail(email)}`;
}
