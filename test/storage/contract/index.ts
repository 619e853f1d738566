import { apiKeysContract, countersContract } from './counters-and-keys.js';
import { codesContract } from './codes.js';
import { oidcAdapterContract } from './oidc.js';
import { usersContract } from './users.js';
import { refreshTokensContract } from './refresh-tokens.js';
import { twoFactorContract } from './two-factor.js';
import { webhooksContract } from './webhooks.js';
import type { StoreHarness } from './harness.js';

export type { StoreHarness } from './harness.js';

/** The storage contract every store must meet; the same cases for each kind of store. */
export function storeContract(harness: StoreHarness): void {
  oidcAdapterContract(harness);
  usersContract(harness);
  codesContract(harness);
  countersContract(harness);
  apiKeysContract(harness);
  refreshTokensContract(harness);
  twoFactorContract(harness);
  webhooksContract(harness);
}
