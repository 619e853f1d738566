import type { Context } from 'koa';

/**
 * An answer with a status and no body at all (FusionAuth's empty 401/404/410/423 and 200s).
 * The body is cleared before the status is set: Koa turns a null body set afterwards into a 204.
 */
export function answerEmpty(ctx: Context, status: number): void {
  ctx.body = null;
  ctx.status = status;
}
