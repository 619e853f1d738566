import type { KoaContextWithOIDC, ErrorOut } from 'oidc-provider';
import type { Views } from '../render/views.js';
import { pageLocals } from '../http/page.js';

/** node-oidc-provider's error page, in our look. Only the OAuth error code and its description are shown. */
export async function renderProviderError(views: Views, ctx: KoaContextWithOIDC, out: ErrorOut, _error: Error): Promise<void> {
  ctx.type = 'html';
  ctx.body = await views.render('pages/error', {
    ...pageLocals(ctx),
    title: 'error.title.provider',
    error: out.error,
    description: out.error_description ?? '',
  });
}

export async function renderLogoutPage(views: Views, ctx: KoaContextWithOIDC, form: string): Promise<void> {
  ctx.type = 'html';
  const client = ctx.oidc.client;
  ctx.body = await views.render('pages/logout', {
    ...pageLocals(ctx),
    // node-oidc-provider's own form (action + xsrf token); we only add the buttons that submit it.
    form,
    clientName: client?.clientName ?? client?.clientId ?? null,
  });
}

export async function renderLoggedOutPage(views: Views, ctx: KoaContextWithOIDC): Promise<void> {
  ctx.type = 'html';
  const client = ctx.oidc.client;
  ctx.body = await views.render('pages/logged-out', {
    ...pageLocals(ctx),
    clientName: client?.clientName ?? client?.clientId ?? null,
  });
}
