import type { KoaContextWithOIDC } from 'oidc-provider';
import { StoreUnavailableError } from '../storage/types.js';

/** Whether node-oidc-provider failed because the database could not be reached. */
export function isStoreUnavailable(error: unknown): error is StoreUnavailableError {
  return error instanceof StoreUnavailableError;
}

export const UNAVAILABLE_DESCRIPTION = 'The service is temporarily unavailable. Please try again shortly.';

/**
 * node-oidc-provider answers every unexpected error with 500 server_error. A database outage
 * is not a fault of ours and passes: tell clients so with 503 and when to retry, as our own
 * routes do. The OAuth error code stays `server_error` (the only one token and userinfo
 * endpoints define for this); its description says what happened.
 */
export function answerUnavailable(ctx: KoaContextWithOIDC): void {
  ctx.status = 503;
  ctx.set('Retry-After', '5');
  ctx.set('Cache-Control', 'no-store');
  const body: unknown = ctx.body;
  if (body && typeof body === 'object' && !Buffer.isBuffer(body) && 'error' in body) {
    ctx.body = { ...body, error_description: UNAVAILABLE_DESCRIPTION };
  }
}
