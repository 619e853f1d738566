import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { SignJWT } from 'jose';

/**
 * How a receiver knows a delivery came from us and was not replayed: two headers, both keyed
 * by the webhook's secret.
 * - `X-FusionAuth-Signature-JWT`: FusionAuth's header, a JWT (HS256) whose `request_body_sha256`
 *   claim is the base64 SHA-256 of the body; integrations written for FusionAuth check it as is.
 * - `X-OML-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the timestamp is
 *   signed too, so a receiver can refuse an old delivery replayed by someone who recorded it.
 */
export const JWT_HEADER = 'X-FusionAuth-Signature-JWT';
export const HMAC_HEADER = 'X-OML-Signature';

export function bodyDigest(body: string): string {
  return createHash('sha256').update(body).digest('base64');
}

export function hmacOf(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/** The two signature headers of one try of a delivery. */
export async function signatureHeaders(secret: string, body: string, now = Date.now()): Promise<Record<string, string>> {
  const seconds = Math.floor(now / 1000);
  const jwt = await new SignJWT({ request_body_sha256: bodyDigest(body) })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(seconds)
    .setExpirationTime(seconds + 300)
    .sign(new TextEncoder().encode(secret));
  return { [JWT_HEADER]: jwt, [HMAC_HEADER]: `t=${seconds},v1=${hmacOf(secret, seconds, body)}` };
}

/**
 * What a receiver runs on `X-OML-Signature` (the docs show the same in a few lines): the HMAC
 * matches the raw body and the timestamp is within `toleranceSeconds` of now.
 */
export function verifyHmacSignature(secret: string, header: string | undefined, body: string, toleranceSeconds = 300, now = Date.now()): boolean {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!match) return false;
  const timestamp = Number(match[1]);
  if (Math.abs(now / 1000 - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(hmacOf(secret, timestamp, body), 'hex');
  return timingSafeEqual(expected, Buffer.from(match[2]!, 'hex'));
}
