import { createHmac, timingSafeEqual } from 'node:crypto';
import { randomBase64url } from '../passwordless/generators.js';

/** Random bytes each token carries: every rendered form gets a token of its own. */
const NONCE_BYTES = 12;
/** base64url of NONCE_BYTES. */
const NONCE_PATTERN = /^[\w-]{16}$/;

/**
 * Stateless per-form tokens: a random nonce and an HMAC of it, the form's purpose and the sign-in
 * it belongs to, keyed by the newest cookie key. A page of ours is the only place to learn one.
 * The nonce makes each rendered form's token unique, so a resubmission of one rendered form can be
 * told from a freshly rendered one (see the email form's repeated submissions).
 */
export class CsrfTokens {
  constructor(private readonly keys: readonly string[]) {}

  issue(purpose: string, binding: string): string {
    const nonce = randomBase64url(NONCE_BYTES);
    return `${nonce}.${this.#sign(this.keys[0] ?? '', purpose, binding, nonce)}`;
  }

  verify(purpose: string, binding: string, token: unknown): boolean {
    if (typeof token !== 'string' || token.length === 0 || token.length > 128) return false;
    const [nonce, mac, ...rest] = token.split('.');
    if (nonce === undefined || mac === undefined || rest.length > 0 || !NONCE_PATTERN.test(nonce)) return false;
    const given = Buffer.from(mac);
    // Older keys still verify, so a key rotation does not break forms already on screen.
    return this.keys.some((key) => {
      const expected = Buffer.from(this.#sign(key, purpose, binding, nonce));
      return expected.length === given.length && timingSafeEqual(expected, given);
    });
  }

  #sign(key: string, purpose: string, binding: string, nonce: string): string {
    return createHmac('sha256', key).update(`${purpose}\n${binding}\n${nonce}`).digest('base64url');
  }
}
