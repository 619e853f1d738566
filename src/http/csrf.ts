import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Stateless per-form tokens: an HMAC of the form's purpose and the sign-in it belongs to,
 * keyed by the newest cookie key. A page of ours is the only place to learn one.
 */
export class CsrfTokens {
  constructor(private readonly keys: readonly string[]) {}

  issue(purpose: string, binding: string): string {
    return this.#sign(this.keys[0] ?? '', purpose, binding);
  }

  verify(purpose: string, binding: string, token: unknown): boolean {
    if (typeof token !== 'string' || token.length === 0 || token.length > 128) return false;
    const given = Buffer.from(token);
    // Older keys still verify, so a key rotation does not break forms already on screen.
    return this.keys.some((key) => {
      const expected = Buffer.from(this.#sign(key, purpose, binding));
      return expected.length === given.length && timingSafeEqual(expected, given);
    });
  }

  #sign(key: string, purpose: string, binding: string): string {
    return createHmac('sha256', key).update(`${purpose}\n${binding}`).digest('base64url');
  }
}
