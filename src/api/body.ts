import type { Middleware } from 'koa';
import { koaBody } from 'koa-body';
import { AppError } from '../http/errors.js';

/** Largest JSON body the API reads. */
export const API_BODY_LIMIT_BYTES = 64 * 1024;

const parseJson = koaBody({
  json: true,
  urlencoded: false,
  text: false,
  multipart: false,
  jsonLimit: API_BODY_LIMIT_BYTES,
  // Only objects and arrays: a bare `"x"` or `42` is not a request.
  jsonStrict: true,
});

function hasBody(method: string, headers: Record<string, string | string[] | undefined>): boolean {
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return false;
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Reads the JSON body of an API call. Every failure is a 4xx in the API's error shape:
 * a body that is not JSON (or not `application/json`) is 400, one over 64 KiB is 413.
 */
export function jsonBody(): Middleware {
  return async (ctx, next) => {
    const carriesBody = hasBody(ctx.method, ctx.headers);
    if (carriesBody && !ctx.is('application/json')) {
      throw new AppError(400, 'InvalidContentType', 'The request body must be JSON, sent with Content-Type: application/json.');
    }
    if (!carriesBody) {
      ctx.request.body = undefined;
      return next();
    }
    let parsed = false;
    try {
      await parseJson(ctx, async () => {
        parsed = true;
      });
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 413) throw new AppError(413, 'TooLarge', `The request body exceeds ${API_BODY_LIMIT_BYTES} bytes.`);
      throw new AppError(400, 'invalidJSON', 'The request body is not valid JSON (an object was expected).');
    }
    if (parsed) await next();
  };
}
