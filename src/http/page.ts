import type { Context } from 'koa';
import type { Views } from '../render/views.js';

/** Locals every page gets. */
export function pageLocals(_ctx: Context): Record<string, unknown> {
  return { locale: 'en' };
}

/** Renders an HTML page with a status. */
export async function renderPage(
  ctx: Context,
  views: Views,
  status: number,
  view: string,
  locals: Record<string, unknown>,
): Promise<void> {
  ctx.status = status;
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = await views.render(view, { ...pageLocals(ctx), ...locals });
}
