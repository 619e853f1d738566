import type { ClientPolicy } from './magic-link.js';
import type { SignUpInput } from './sign-up.js';

/**
 * Whose codes the hosted sign-in issues: the plugin's view of accounts, which belong to the host
 * (the plugin's `findAccountByEmail`…) or, in the server, to our users store. Nothing here knows
 * where accounts live.
 */

/** An account a link is sent to, with what the email needs of it. */
export interface Recipient {
  id: string;
  email: string;
  firstName?: string;
  lastName?: string;
  preferredLanguages: readonly string[];
  timezone?: string;
}

export type SignInMethod = 'magic_link' | 'typed_code' | 'magic_link_cross_device' | 'sign_up';

export interface AccountDirectory {
  /** The account a link for `email` goes to when it may sign in to `client`; null sends nothing. */
  recipientFor(email: string, client: ClientPolicy): Promise<Recipient | null>;
  /** The account at redemption (or for a fresh link); null when it may no longer sign in to `client`. */
  signInAccount(accountId: string, client: ClientPolicy): Promise<Recipient | null>;
  /** A sign-in happened (e.g. to record the last login). */
  recordSignIn(accountId: string, client: ClientPolicy, method: SignInMethod): Promise<void>;
  /**
   * Makes the account of a verified sign-up (registered to `client` with the input's roles); the
   * account that already has the address when one was made meanwhile. Absent: no one can sign up.
   */
  createAccount?(input: SignUpInput, client: ClientPolicy): Promise<Recipient>;
}
