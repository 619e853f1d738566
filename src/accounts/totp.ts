import { Secret, TOTP } from 'otpauth';

/**
 * TOTP as every authenticator app understands it (RFC 6238: HMAC-SHA-1, 6 digits, 30 s steps),
 * computed by the `otpauth` package rather than by hand: a small, maintained, dependency-free
 * implementation of RFC 4226/6238 whose test vectors we need not re-derive.
 */

export const TOTP_PERIOD_SECONDS = 30;
const DIGITS = 6;
/** Codes of the previous and next step are accepted too (clock drift, slow typing). */
const WINDOW = 1;

/** A new random 160-bit secret (RFC 4226's recommended length), as FusionAuth's GET /api/two-factor/secret shows it. */
export function newTotpSecret(): { secret: string; secretBase32Encoded: string } {
  const secret = new Secret({ size: 20 });
  return { secret: Buffer.from(secret.buffer).toString('base64'), secretBase32Encoded: secret.base32 };
}

/**
 * A secret given in base64 (FusionAuth's `secret`) as base32, the form we keep; null when it is
 * not base64. Strict: base64 that does not read back the same (stray characters) is refused.
 */
export function base32FromBase64(secret: string): string | null {
  const value = secret.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value) || value.length % 4 !== 0) return null;
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length === 0 || bytes.toString('base64') !== value) return null;
  return new Secret({ buffer: new Uint8Array(bytes).buffer }).base32;
}

/** Whether a string is a usable base32 TOTP secret (at least 80 bits). */
export function isBase32Secret(value: string): boolean {
  if (!/^[A-Z2-7]+=*$/i.test(value)) return false;
  try {
    return Secret.fromBase32(value.toUpperCase()).buffer.byteLength >= 10;
  } catch {
    return false;
  }
}

function totp(secretBase32: string, label = 'user', issuer = ''): TOTP {
  return new TOTP({ issuer, label, algorithm: 'SHA1', digits: DIGITS, period: TOTP_PERIOD_SECONDS, secret: Secret.fromBase32(secretBase32.toUpperCase()) });
}

/** The time step a code belongs to, when it is right for `now` within the window; null otherwise. */
export function totpStepOf(secretBase32: string, code: string, now = Date.now()): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const delta = totp(secretBase32).validate({ token: code, timestamp: now, window: WINDOW });
  return delta === null ? null : Math.floor(now / 1000 / TOTP_PERIOD_SECONDS) + delta;
}

/** The otpauth:// URI an authenticator app scans (as a QR code) or imports. */
export function otpauthUri(secretBase32: string, accountName: string, issuer: string): string {
  return totp(secretBase32, accountName, issuer).toString();
}
