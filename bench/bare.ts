/**
 * The baseline: node-oidc-provider as its examples use it — same version, same signing keys
 * (so the same ID token algorithm), its built-in memory adapter — with a trivial login form:
 * type an email, be signed in. Same client, scopes, claims, first-party grant and refresh
 * token rules as ours, so the only difference is how the user proves who they are.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { scopeClaims } from '../src/accounts/claims.js';
import { loadConfig } from '../src/config/load.js';
import type { ServerSpec } from './protocol.js';
import { benchEmail, cappedTtl } from './protocol.js';

export interface Account {
  id: string;
  claims: Record<string, unknown>;
}

export type Accounts = { byId: Map<string, Account>; byEmail: Map<string, Account> };

export function seedAccounts(count: number): Accounts {
  const byId = new Map<string, Account>();
  const byEmail = new Map<string, Account>();
  for (let i = 0; i < count; i += 1) {
    const id = randomUUID();
    const email = benchEmail(i);
    const account = { id, claims: { sub: id, email, email_verified: true, name: `User${i}`, given_name: `User${i}` } };
    byId.set(id, account);
    byEmail.set(email, account);
  }
  return { byId, byEmail };
}

export async function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Sends the requests whose path `pattern` matches (groups: the interaction uid, the rest) to
 * `routes`, everything else to node-oidc-provider; a route that throws answers a plain 400.
 */
export function serveInteractions(
  server: http.Server,
  provider: (req: http.IncomingMessage, res: http.ServerResponse) => unknown,
  pattern: RegExp,
  routes: (req: http.IncomingMessage, res: http.ServerResponse, uid: string, rest: string | undefined) => Promise<void>,
): void {
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const match = pattern.exec(req.url ?? '');
    if (!match) {
      void provider(req, res);
      return;
    }
    routes(req, res, match[1] ?? '', match[2]).catch(() => {
      if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('sign-in failed');
    });
  });
}

/** An HTTP server on a free port, and the issuer that names it. */
export async function listening(): Promise<{ server: http.Server; port: number; issuer: string }> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, resolve));
  const port = (server.address() as AddressInfo).port;
  return { server, port, issuer: `http://localhost:${port}` };
}

/**
 * node-oidc-provider configured as both contenders without magic (bare, floor) run it: the same
 * client, keys, scopes, claims, lifetimes and first-party grant rule as ours.
 */
export function contenderConfiguration(spec: ServerSpec, accounts: Accounts): Configuration {
  return {
    clients: [{ ...spec.client, grant_types: ['authorization_code', 'refresh_token'], first_party: true } as never],
    jwks: spec.jwks as Configuration['jwks'],
    cookies: { keys: spec.cookieKeys },
    claims: Object.fromEntries(Object.entries(scopeClaims).map(([k, v]) => [k, [...v]])),
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    responseTypes: ['code'],
    conformIdTokenClaims: false,
    extraClientMetadata: { properties: ['first_party'] },
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    findAccount: async (_ctx, sub) => {
      const account = accounts.byId.get(sub);
      return account ? { accountId: account.id, claims: () => account.claims as { sub: string } } : undefined;
    },
    // First-party: the grant covers what the request names (node-oidc-provider's documented pattern).
    loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
      const { oidc } = ctx;
      const grantId = oidc.result?.consent?.grantId || oidc.session!.grantIdFor(oidc.client!.clientId);
      const existing = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
      const grant = existing ?? new oidc.provider.Grant({ clientId: oidc.client!.clientId, accountId: oidc.session!.accountId! });
      grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
      await grant.save();
      return grant;
    },
    // The same lifetimes as ours (read from config/default.json), so both stores hold the same amount.
    ttl: cappedTtl(loadConfig({ env: {} }).ttl, spec.ttlSeconds) as Configuration['ttl'],
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      resourceIndicators: { enabled: false },
      revocation: { enabled: true },
      introspection: { enabled: true },
      userinfo: { enabled: true },
    },
  };
}

export async function startBare(spec: ServerSpec) {
  const accounts = seedAccounts(spec.users);
  const { server, port, issuer } = await listening();
  const provider = new Provider(issuer, contenderConfiguration(spec, accounts));
  const callback = provider.callback();

  const login = async (req: http.IncomingMessage, res: http.ServerResponse, uid: string, action: string | undefined) => {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) throw new Error('interaction mismatch');
    if (req.method === 'GET' && action === undefined) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(
        `<!doctype html><title>Sign in</title><form method="post" action="/interaction/${escapeHtml(uid)}/login">` +
          '<input name="email" type="email"><button>Sign in</button></form>',
      );
      return;
    }
    if (req.method === 'POST' && action === 'login') {
      const account = accounts.byEmail.get((await readForm(req)).get('email') ?? '');
      const result = account ? { login: { accountId: account.id, amr: ['email'] } } : { error: 'access_denied' };
      const returnTo = await provider.interactionResult(req, res, result);
      res.writeHead(303, { location: returnTo });
      res.end();
      return;
    }
    res.writeHead(404).end();
  };

  serveInteractions(server, callback, /^\/interaction\/([\w-]+)(?:\/(\w+))?\/?$/, login);

  return {
    issuer,
    port,
    store: 'oidc-provider memory adapter',
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
