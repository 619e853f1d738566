import { createHash } from 'node:crypto';

/** SHA-256 (hex) of a code: what the store keeps instead of the code itself. */
export function hashCode(code: string): string {
  return createHash('sha256').update(code, 'utf8').digest('hex');
}
