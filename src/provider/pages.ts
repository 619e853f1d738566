import type { KoaContextWithOIDC, ErrorOut } from 'oidc-provider';
import type { Views } from '../render/views.js';
import { ERROR_VIEW, pageLocals, renderPage } from '../http/page.js';
import { isStoreUnavailable } from './unavailable.js';

/**
 * node-oidc-provider's error page, in our look. Only the OAuth error code and its description are
 * shown. It never throws: a failing template answers the built-in page (see renderPage).
 */
export async function renderProviderError(views: Views, ctx: KoaContextWithOIDC, out: ErrorOut, error: Error): Promise<void> {
  if (isStoreUnavailable(error)) {
    // The same page our own routes show for an outage.
    return renderPage(ctx, views, 503, ERROR_VIEW, {
      title: 'error.title.unavailable',
      error: 'service_unavailable',
      description: 'error.message.service_unavailable',
    });
  }
  return renderPage(ctx, views, ctx.status, ERROR_VIEW, {
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
