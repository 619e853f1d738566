import { derivedOnce } from '../memo.js';
import type Provider from 'oidc-provider';
import { clientPolicy } from '../provider/clients.js';
import type { ApplicationDirectory, ApplicationInfo } from '../passwordless/api-login.js';

type ProviderClient = NonNullable<Awaited<ReturnType<Provider['Client']['find']>>>;

function applicationInfo(client: ProviderClient): ApplicationInfo {
  return Object.freeze({
    ...clientPolicy(client as unknown as Parameters<typeof clientPolicy>[0]),
    allowsRefreshToken: client.grantTypeAllowed('refresh_token'),
    redirectUris: Object.freeze([...(client.redirectUris ?? [])]),
  });
}

/**
 * Applications are node-oidc-provider's configured clients: one source of truth for both.
 * node-oidc-provider keeps one Client object per configuration (a changed client is a new
 * object), so what we derive from it is kept beside it rather than rebuilt on every API call.
 */
export function providerApplications(provider: Provider): ApplicationDirectory {
  const infoOf = derivedOnce((client: ProviderClient) => applicationInfo(client));
  return {
    async find(clientId: string): Promise<ApplicationInfo | null> {
      if (clientId.length === 0 || clientId.length > 255) return null;
      const client = await provider.Client.find(clientId);
      if (!client) return null;
      return infoOf(client);
    },
  };
}
