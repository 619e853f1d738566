import { createHmac } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { ClientMetadata } from 'oidc-provider';
import { ConfigError } from '../config/load.js';
import type { ClientConfig, Config } from '../config/schema.js';
import type { ClientPolicy } from '../passwordless/magic-link.js';

/** Our additions to node-oidc-provider's client metadata. */
export const EXTRA_CLIENT_METADATA = [
  'first_party',
  'require_pkce',
  'require_registration',
  'passwordless_enabled',
  'self_service_registration',
] as const;

export const DEMO_CLIENT_ID = 'demo';

/** The demo client's secret: derived from the cookie key so every instance agrees without storing it. */
export function demoClientSecret(cookieKeys: readonly string[]): string {
  return createHmac('sha256', cookieKeys[0] ?? '').update('demo-client-secret').digest('base64url');
}

export function demoClient(issuer: string, cookieKeys: readonly string[]): ClientConfig {
  return {
    client_id: DEMO_CLIENT_ID,
    client_secret: demoClientSecret(cookieKeys),
    client_name: 'Demo app',
    redirect_uris: [`${issuer}/demo/callback`],
    post_logout_redirect_uris: [`${issuer}/demo/logged-out`],
    grant_types: ['authorization_code', 'refresh_token'],
    first_party: true,
  };
}

/** Clients handed to node-oidc-provider: the configured ones, plus the demo client in development. */
export function providerClients(config: Config, issuer: string, cookieKeys: readonly string[]): ClientMetadata[] {
  const clients: ClientConfig[] = [...config.clients];
  if (demoEnabled(config) && !clients.some((c) => c.client_id === DEMO_CLIENT_ID)) clients.push(demoClient(issuer, cookieKeys));
  return clients as ClientMetadata[];
}

export function demoEnabled(config: Config): boolean {
  return config.demo.enabled && !config.production;
}

/** The sign-in rules of a client, read from its metadata (node-oidc-provider Client or plain config). */
export function clientPolicy(client: { clientId: string; clientName?: string | undefined } & Record<string, unknown>): ClientPolicy {
  return {
    clientId: client.clientId,
    name: typeof client.clientName === 'string' && client.clientName ? client.clientName : client.clientId,
    passwordlessEnabled: client.passwordless_enabled !== false,
    requireRegistration: client.require_registration === true,
  };
}

/** node-oidc-provider's reason for refusing client metadata ("grant_types can only contain ..."). */
function metadataProblem(err: unknown): string {
  const description = (err as { error_description?: unknown } | null)?.error_description;
  if (typeof description === 'string' && description) return description;
  return err instanceof Error ? err.message : String(err);
}

/**
 * node-oidc-provider checks a configured client's metadata only when the client is first used,
 * so a bad one started fine and then failed every sign-in. Each is looked up here, at start-up,
 * through node-oidc-provider itself (its rules, not a copy of them); a refusal stops start-up
 * naming the client and node-oidc-provider's reason.
 */
export async function assertClientsValid(provider: Provider, config: Config): Promise<void> {
  const problems: string[] = [];
  for (const [index, client] of config.clients.entries()) {
    try {
      await provider.Client.find(client.client_id);
    } catch (err) {
      problems.push(`  - clients.${index} (client_id "${client.client_id}"): ${metadataProblem(err)}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n${problems.join('\n')}`);
}
