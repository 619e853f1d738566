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
 * Node's codes for a server certificate that failed verification: OpenSSL's verify results and
 * the host-name check. nodemailer reports them as ESOCKET (or ETLS) with the code as `originalCode`.
 */
const CERTIFICATE_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The code under nodemailer's own (ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT…), when it wrapped one. */
export function causeOf(err: unknown): string | null {
  const { originalCode } = (err ?? {}) as { originalCode?: unknown };
  return typeof originalCode === 'string' ? originalCode : null;
}

/** nodemailer's (or Node's) code of a send error: ECONNECTION, ETIMEDOUT, EAUTH… */
export function errorCodeOf(err: unknown): string | null {
  const { code } = (err ?? {}) as { code?: unknown };
  return typeof code === 'string' ? code : null;
}

/** Whether the send failed because the server's TLS certificate did not verify. */
export function isCertificateRefused(err: unknown): boolean {
  return [causeOf(err), errorCodeOf(err)].some((c) => c !== null && CERTIFICATE_CODES.has(c));
}

/**
 * Is a send error transient? SMTP says so itself: 4xx replies are "try again later", 5xx are
 * final. Without a reply, network-level failures are transient and anything else (bad
 * credentials, a malformed message, a server certificate that does not verify: the
 * configuration has to change, not the moment) is not.
 */
export function isTransientMailError(err: unknown): boolean {
  const responseCode = responseCodeOf(err);
  if (responseCode !== null) return responseCode >= 400 && responseCode < 500;
  if (isCertificateRefused(err)) return false;
  const code = errorCodeOf(err);
  return code !== null && TRANSIENT_CODES.has(code);
}

export function responseCodeOf(err: unknown): number | null {
  const code = (err as { responseCode?: unknown } | null)?.responseCode;
  return typeof code === 'number' ? code : null;
}
