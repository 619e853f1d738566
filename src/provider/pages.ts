import type { KoaContextWithOIDC, ErrorOut } from 'oidc-provider';
import type { Views } from '../render/views.js';
import { errorPageBody, pageLocals } from '../http/page.js';
import { isStoreUnavailable } from './unavailable.js';

/**
 * node-oidc-provider's error page, in our look. Only the OAuth error code and its description are
 * shown. It never throws: node-oidc-provider has set the status, and a failing template answers
 * the built-in page with it (see {@link errorPageBody}).
 */
export async function renderProviderError(views: Views, ctx: KoaContextWithOIDC, out: ErrorOut, error: Error): Promise<void> {
  ctx.type = 'html';
  if (isStoreUnavailable(error)) {
    // The same page our own routes show for an outage (the status follows in the server_error listener).
    ctx.status = 503;
    ctx.body = await errorPageBody(ctx, views, {
      title: 'error.title.unavailable',
      error: 'service_unavailable',
      description: 'error.message.service_unavailable',
    });
    return;
  }
  ctx.body = await errorPageBody(ctx, views, {
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
