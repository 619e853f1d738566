/**
 * The plugin in a host: what examples/koa-host does, with the bench's keys, client, accounts and
 * SMTP server. node-oidc-provider configured as the bare and floor contenders (the same client,
 * keys, scopes, lifetimes and first-party grant rule), the plugin's policy, pages and mail on it,
 * mounted at the root of a Koa app with koa-mount. Its codes and counters live in the plugin's
 * default store (process memory), as ours' do in the memory store.
 */
import Koa from 'koa';
import mount from 'koa-mount';
import Provider from 'oidc-provider';
import { magicLink } from '../src/index.js';
import type { ServerSpec } from './protocol.js';
import { contenderConfiguration, listening, seedAccounts } from './bare.js';

export async function startPluginHost(spec: ServerSpec) {
  if (!spec.smtpUrl) throw new Error('the plugin host sends its email over SMTP: give it the driver’s SMTP URL');
  const accounts = seedAccounts(spec.users);
  const accountOf = (account: { id: string; claims: Record<string, unknown> } | undefined) => (account ? { accountId: account.id, email: String(account.claims.email) } : undefined);
  const ml = magicLink({
    findAccountByEmail: async (email) => accountOf(accounts.byEmail.get(email.trim().toLowerCase())),
    findAccountById: async (id) => accountOf(accounts.byId.get(id)),
    mail: { smtpUrl: spec.smtpUrl, from: 'Sign-in <no-reply@bench.test>' },
    keys: spec.cookieKeys,
    // As ours in the bench: the flows reuse addresses far faster than any real user.
    rateLimits: { enabled: false },
  });
  const { server, port, issuer } = await listening();
  const provider = new Provider(issuer, { ...contenderConfiguration(spec, accounts), interactions: ml.interactions() });
  ml.mount(provider);
  const app = new Koa();
  app.keys = spec.cookieKeys;
  app.use(mount(provider));
  server.on('request', app.callback());
  return {
    issuer,
    port,
    store: 'oidc-provider memory adapter + the plugin’s memory store',
    stop: async () => {
      await ml.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
