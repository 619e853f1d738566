import type Provider from 'oidc-provider';
import { clientPolicy } from '../provider/clients.js';
import type { ApplicationDirectory, ApplicationInfo } from '../passwordless/api-login.js';

/** Applications are node-oidc-provider's configured clients: one source of truth for both. */
export function providerApplications(provider: Provider): ApplicationDirectory {
  return {
    async find(clientId: string): Promise<ApplicationInfo | null> {
      if (clientId.length === 0 || clientId.length > 255) return null;
      const client = await provider.Client.find(clientId);
      if (!client) return null;
      return {
        ...clientPolicy(client as unknown as Parameters<typeof clientPolicy>[0]),
        allowsRefreshToken: client.grantTypeAllowed('refresh_token'),
        redirectUris: [...(client.redirectUris ?? [])],
      };
    },
  };
}
