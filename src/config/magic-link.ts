import { derivedOnce } from '../memo.js';
import type { MagicLinkAccount, MagicLinkClient, MagicLinkOptions } from '../index.js';
import type { Config } from './schema.js';
import type { Store } from '../storage/types.js';
import type { KeyMaterial } from '../provider/keys.js';
import type { MailTransport } from '../mail/types.js';
import { hasAuthenticator, type TwoFactorService } from '../accounts/two-factor.js';
import { userAccounts } from '../accounts/directory.js';
import { clientPolicy } from '../provider/clients.js';
import type { Recipient } from '../passwordless/accounts.js';
import type { Events } from '../events/events.js';

function accountOf(recipient: Recipient | null): MagicLinkAccount | null {
  if (!recipient) return null;
  const { id, preferredLanguages, ...rest } = recipient;
  return { accountId: id, locales: preferredLanguages, ...rest };
}

/** Our client rules (require_registration, passwordless_enabled) read from the client's metadata; once per client object the plugin hands us. */
const policyOf = derivedOnce((client: MagicLinkClient) => ({ ...clientPolicy({ clientId: client.clientId, clientName: client.name, ...client.metadata }), metadata: client.metadata }));

/**
 * The server's configuration as options of the magic-link plugin: our users store answers who
 * may receive a link, our TOTP enrolments are the second factor, mail goes through the server's
 * transport (SMTP or the dev mailbox), and codes and counters live in the server's store.
 */
export function magicLinkOptions(deps: { config: Config; store: Store; keys: KeyMaterial; transport: MailTransport; twoFactor: TwoFactorService; events?: Events }): MagicLinkOptions {
  const { config, store, transport, twoFactor } = deps;
  const accounts = userAccounts(store.users, deps.events);
  return {
    findAccountByEmail: async (email, { client }) => accountOf(await accounts.recipientFor(email, policyOf(client))),
    findAccountById: async (accountId, { client }) => accountOf(await accounts.signInAccount(accountId, policyOf(client))),
    onSignIn: ({ accountId }, { client, method }) => accounts.recordSignIn(accountId, policyOf(client), method),
    // Sign-up where a client's self_service_registration allows it: users made in our store.
    createAccount: async (input, { client }) => accountOf(await accounts.createAccount!(input, policyOf(client)))!,
    mail: { send: (message) => transport.send(message), retry: config.mail.retry },
    store: { codes: store.codes, counters: store.counters },
    secondFactor: {
      isEnrolled: async (accountId) => {
        const user = await store.users.findById(accountId);
        return user !== null && hasAuthenticator(user);
      },
      verify: async (accountId, code) => {
        const verified = await twoFactor.verify(accountId, code);
        if (verified.ok) return verified.kind;
        return verified.problem === 'limited' ? 'limited' : 'wrong';
      },
      trustDevice: (accountId) => twoFactor.trustDevice(accountId),
      isTrusted: (accountId, trustId) => twoFactor.isTrusted(accountId, trustId),
    },
    keys: deps.keys.cookieKeys,
    timeToLiveInSeconds: config.passwordless.timeToLiveInSeconds,
    maxAttempts: config.passwordless.maxAttempts,
    shortCode: config.passwordless.shortCode,
    linkCodeBytes: config.passwordless.linkCode.length,
    rateLimits: config.rateLimits,
    secondFactorMaxAttempts: config.twoFactor.maxAttempts,
    trustTimeToLiveInSeconds: config.twoFactor.trustTimeToLiveInSeconds,
    ...(config.theme ? { theme: config.theme } : {}),
    defaultLocale: config.mail.defaultLocale,
    interactionTimeToLiveInSeconds: config.ttl.Interaction ?? 3600,
  };
}
