import { randomBytes, randomInt } from 'node:crypto';
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

/** Bits of entropy a code of this configuration carries. */
export function linkCodeEntropyBits(config: CodeGeneratorConfig): number {
  const alphabet = alphabetOf(config.generator);
  return alphabet === null ? config.length * 8 : config.length * Math.log2(alphabet.length);
}

/**
 * A fresh random code. `randomBytes` yields base64url of `length` bytes; the others draw
 * `length` characters uniformly (crypto.randomInt rejects modulo bias).
 */
export function generateCode(config: CodeGeneratorConfig): string {
  const alphabet = alphabetOf(config.generator);
  if (alphabet === null) return randomBytes(config.length).toString('base64url');
  let out = '';
  for (let i = 0; i < config.length; i += 1) out += alphabet[randomInt(alphabet.length)];
  return out;
}
