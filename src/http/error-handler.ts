import type { Middleware } from 'koa';
import type { Views } from '../render/views.js';
import { StoreUnavailableError, WriteConflictError } from '../storage/types.js';
import { MailUnavailableError } from '../mail/errors.js';
import { describeError, log } from '../log.js';
import { AppError } from './errors.js';
import { ERROR_VIEW, renderPage } from './page.js';
import { redactPath } from './request-log.js';

interface HttpLikeError {
  status?: number;
  statusCode?: number;
  expose?: boolean;
  message?: string;
}

/** Normalises anything thrown into the one error model. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof StoreUnavailableError) return new AppError(503, 'service_unavailable', 'The service is temporarily unavailable. Please try again shortly.');
  if (err instanceof WriteConflictError) return new AppError(409, 'ConcurrentModification', 'The record was being changed by other requests at the same time; try again.');
  // The mail server is down, busy or refusing: the email was not sent, and a retry later may work.
  if (err instanceof MailUnavailableError) return new AppError(503, 'service_unavailable', 'Email cannot be sent right now. Please try again shortly.');
  const httpErr = err as HttpLikeError;
  const status = httpErr?.status ?? httpErr?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const message = httpErr.expose && httpErr.message ? httpErr.message : 'The request could not be understood.';
    return new AppError(status, status === 413 ? 'payload_too_large' : 'invalid_request', message);
  }
  return new AppError(500, 'server_error', 'Something went wrong on our side.');
}

/**
 * Whether a path is the REST API's: /api and below, in any case. API routes match in lower case
 * only, but whatever else such a path gets (a 404, a 400 from a body parser) is still the API's
 * JSON, never an HTML page.
 */
export function isApiPath(path: string): boolean {
  return /^\/api(?:\/|$)/i.test(path);
}

/** The body of an API error, in FusionAuth's shape. */
export function apiErrorBody(error: AppError): Record<string, unknown> {
  return {
    ...(Object.keys(error.fieldErrors).length > 0 ? { fieldErrors: error.fieldErrors } : {}),
    generalErrors: [{ code: `[${error.code}]`, message: error.message }],
  };
}

/**
 * Turns errors of our routes into a readable page (or, under /api, FusionAuth's error JSON).
 * 5xx details are logged, never shown.
 */
export function errorHandler(views: Views): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const error = toAppError(err);
      if (error.status >= 500) log.error('request.failed', { method: ctx.method, path: redactPath(ctx.path), status: error.status, ...describeError(err) });
      if (error.status === 503) ctx.set('Retry-After', '5');
      if (isApiPath(ctx.path)) {
        ctx.status = error.status;
        ctx.set('Cache-Control', 'no-store');
        ctx.body = apiErrorBody(error);
        return;
      }
      // Never throws: a failing error page answers the built-in one with this status.
      await renderPage(ctx, views, error.status, ERROR_VIEW, {
        title: error.status === 503 ? 'error.title.unavailable' : error.status >= 500 ? 'error.title.server' : 'error.title.client',
        error: error.code,
        // A 4xx message may be specific (shown as given); 5xx ones are generic and translated by code.
        description: error.status >= 500 ? `error.message.${error.code}` : error.message,
      });
    }
  };
}
