import { loadConfig, deepMerge } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { generateCookieKeys, generateSigningKeys } from '../../src/provider/keys.js';
import type { MailTransport } from '../../src/mail/types.js';
import type { Store } from '../../src/storage/types.js';
import { DevMailbox, type StoredMail } from '../../src/mail/dev-mailbox.js';
import { makeTempDir, removeTempDir } from './temp.js';

process.env.LOG_LEVEL ??= 'silent';

let sharedKeys: Promise<{ jwks: unknown; cookieKeys: string[] }> | null = null;
/** One key set per test run: RSA generation is slow and the keys are not under test. */
export function testKeys() {
  sharedKeys ??= generateSigningKeys().then((jwks) => ({ jwks, cookieKeys: generateCookieKeys() }));
  return sharedKeys;
}

export const WEB_CLIENT = {
  client_id: 'web',
  client_secret: 'web-secret-that-is-long-enough',
  client_name: 'Web App',
  redirect_uris: ['http://127.0.0.1:9999/cb'],
  post_logout_redirect_uris: ['http://127.0.0.1:9999/bye'],
  grant_types: ['authorization_code', 'refresh_token'],
  first_party: true,
};

export const SPA_CLIENT = {
  client_id: 'spa',
  client_name: 'Single Page App',
  token_endpoint_auth_method: 'none',
  redirect_uris: ['http://127.0.0.1:9999/spa-cb'],
  first_party: true,
};

export const THIRD_PARTY_CLIENT = {
  client_id: 'partner',
  client_secret: 'partner-secret-that-is-long-enough',
  client_name: 'Partner App',
  redirect_uris: ['http://127.0.0.1:9999/partner-cb'],
  require_registration: true,
};

export const ALICE = {
  email: 'alice@example.com',
  firstName: 'Alice',
  lastName: 'Liddell',
  preferredLanguages: ['en'],
  timezone: 'Europe/London',
  registrations: [{ applicationId: 'partner', roles: ['reader'] }],
};
export const BOB = { email: 'bob@example.com', firstName: 'Bob' };

export interface TestServer extends RunningServer {
  mailbox: DevMailbox | null;
  /** Waits for background mail work, then returns the mailbox (newest first). */
  mails(): Promise<StoredMail[]>;
}

export interface TestServerOptions {
  config?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  transport?: MailTransport;
  store?: Store;
}

/**
 * The real server on a random port, with test clients and users, the memory store and the dev
 * mailbox. Its data directory (development keys land there) is removed by `stop()`.
 */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const keys = await testKeys();
  const dataDirectory = makeTempDir('oml-test-');
  const base = {
    port: 0,
    clients: [WEB_CLIENT, SPA_CLIENT, THIRD_PARTY_CLIENT],
    users: [ALICE, BOB],
    jwks: keys.jwks,
    cookieKeys: keys.cookieKeys,
    dataDirectory,
    // Suites sign the same users in dozens of times; the limits have tests of their own.
    rateLimits: { sendPerAddress: { limit: 1000, windowSeconds: 900 }, sendPerIp: { limit: 10000, windowSeconds: 900 } },
  };
  let running: RunningServer;
  try {
    const config = loadConfig({ env: options.env ?? {}, overrides: deepMerge(base, options.config ?? {}) });
    running = await startServer(config, {
      ...(options.transport ? { transport: options.transport } : {}),
      ...(options.store ? { store: options.store } : {}),
    });
  } catch (err) {
    // A start a test expects to fail leaves nothing behind either.
    removeTempDir(dataDirectory);
    throw err;
  }
  const mailbox = running.app.transport instanceof DevMailbox ? running.app.transport : null;
  return {
    ...running,
    mailbox,
    async stop() {
      try {
        await running.stop();
      } finally {
        removeTempDir(dataDirectory);
      }
    },
    async mails() {
      await running.app.outbox.drain();
      return mailbox ? mailbox.list() : [];
    },
  };
}
