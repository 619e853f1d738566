/**
 * An email could not be handed to the mail server: it was down or busy through every retry
 * (`permanent: false`), or it refused the message outright (`permanent: true`). The message
 * never includes the email's content. Request handlers that send synchronously (the API's
 * /send) let it propagate: the error handler answers 503.
 */
export class MailUnavailableError extends Error {
  readonly code = 'mail_unavailable';

  constructor(
    readonly permanent: boolean,
    /** The SMTP reply code, when the server gave one. */
    readonly responseCode: number | null,
  ) {
    super(permanent ? 'the mail server refused the message' : 'the mail server could not be reached');
    this.name = 'MailUnavailableError';
  }
}

/** nodemailer's codes for trouble on the way to the server, worth another try. */
const TRANSIENT_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ETLS', 'EMAXLIMIT']);

/**
 * Is a send error transient? SMTP says so itself: 4xx replies are "try again later", 5xx are
 * final. Without a reply, network-level failures are transient and anything else (bad
 * credentials, a malformed message) is not.
 */
export function isTransientMailError(err: unknown): boolean {
  const { responseCode, code } = (err ?? {}) as { responseCode?: unknown; code?: unknown };
  if (typeof responseCode === 'number') return responseCode >= 400 && responseCode < 500;
  return typeof code === 'string' && TRANSIENT_CODES.has(code);
}

export function responseCodeOf(err: unknown): number | null {
  const code = (err as { responseCode?: unknown } | null)?.responseCode;
  return typeof code === 'number' ? code : null;
}
