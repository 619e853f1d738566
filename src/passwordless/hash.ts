import { hash } from 'node:crypto';

/**
 * SHA-256 (hex) of a code: what the store keeps instead of the code itself. The one-shot
 * `crypto.hash` costs a third of a `createHash` object, and an API login hashes several times.
 */
export function hashCode(code: string): string {
  return hash('sha256', code, 'hex');
}
