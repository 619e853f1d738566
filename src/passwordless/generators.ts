import { createHmac, randomBytes, randomFillSync, randomInt } from 'node:crypto';
import type { CodeGeneratorConfig } from '../config/schema.js';

const ALPHA = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const ALPHANUMERIC = `${ALPHA}0123456789`;
const DIGITS = '0123456789';

function alphabetOf(generator: CodeGeneratorConfig['generator']): string | null {
  switch (generator) {
    case 'randomAlpha':
      return ALPHA;
    case 'randomAlphaNumeric':
      return ALPHANUMERIC;
    case 'randomDigits':
      return DIGITS;
    case 'randomBytes':
      return null;
  }
}

/** base64url: the characters of a `randomBytes` code. */
const BASE64URL = `${ALPHANUMERIC}-_`;

/**
 * A typed code as it was issued: people group a code they type ("816 754", "816-754") or paste it
 * with spaces around. Whitespace and hyphens are dropped wherever they stand, unless the configured
 * alphabet has them (a `randomBytes` code may contain '-', which then stays).
 */
export function typedCodeAsIssued(typed: string, config: CodeGeneratorConfig): string {
  const alphabet = alphabetOf(config.generator) ?? BASE64URL;
  return typed.replace(/[\s-]/g, (separator) => (alphabet.includes(separator) ? separator : ''));
}

/** Bits of entropy a code of this configuration carries. */
export function linkCodeEntropyBits(config: CodeGeneratorConfig): number {
  const alphabet = alphabetOf(config.generator);
  return alphabet === null ? config.length * 8 : config.length * Math.log2(alphabet.length);
}

const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let poolUsed = POOL_BYTES;

/**
 * `length` random bytes (from the OS's CSPRNG), base64url: codes, refresh tokens, ids.
 * They are drawn from a pool refilled 4 KiB at a time: one `randomBytes` call per secret costs
 * 3–5 µs whatever its size, some twenty-five times a draw from the pool. Drawn bytes are zeroed at
 * once, so the pool never holds a secret that was handed out.
 */
export function randomBase64url(length: number): string {
  if (length > POOL_BYTES) return randomBytes(length).toString('base64url');
  if (poolUsed + length > POOL_BYTES) {
    randomFillSync(pool);
    poolUsed = 0;
  }
  const drawn = pool.toString('base64url', poolUsed, poolUsed + length);
  pool.fill(0, poolUsed, poolUsed + length);
  poolUsed += length;
  return drawn;
}

/**
 * A fresh random code. `randomBytes` yields base64url of `length` bytes; the others draw
 * `length` characters uniformly (crypto.randomInt rejects modulo bias).
 */
export function generateCode(config: CodeGeneratorConfig): string {
  const alphabet = alphabetOf(config.generator);
  if (alphabet === null) return randomBase64url(config.length);
  let out = '';
  for (let i = 0; i < config.length; i += 1) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/**
 * The short typed code that goes with a link code. It is derived from the link code (a PRF
 * over 128+ random bits) rather than drawn separately, so the page that a link opens on
 * another device can show it without the server keeping any plaintext. Knowing the short
 * code reveals nothing about the link code.
 */
export function deriveShortCode(linkCode: string, config: CodeGeneratorConfig): string {
  const digest = createHmac('sha256', 'oidc-magic-link/short-code').update(linkCode, 'utf8').digest();
  if (config.generator === 'randomBytes') return digest.subarray(0, config.length).toString('base64url');
  const alphabet = alphabetOf(config.generator) as string;
  // 256 bits reduced to at most 12 symbols: the modulo bias is far below 2^-180.
  let value = BigInt(`0x${digest.toString('hex')}`);
  const base = BigInt(alphabet.length);
  let out = '';
  for (let i = 0; i < config.length; i += 1) {
    out += alphabet[Number(value % base)];
    value /= base;
  }
  return out;
}
