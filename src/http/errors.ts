/**
 * The one error model: an HTTP status, a stable machine code and a message. Only 4xx
 * messages reach the client; anything else is logged and answered generically.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Field-level problems, for API validation errors. */
    readonly fieldErrors: Record<string, { code: string; message: string }[]> = {},
  ) {
    super(message);
  }

  get expose(): boolean {
    return this.status >= 400 && this.status < 500;
  }
}

export const badRequest = (code: string, message: string): AppError => new AppError(400, code, message);
export const notFound = (message = 'Not found'): AppError => new AppError(404, 'not_found', message);
