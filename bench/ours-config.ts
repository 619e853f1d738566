/** Our application's configuration for a benchmark run: the bench server process and the in-process API bench share it. */
import { loadConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { benchEmail, cappedTtl, BENCH_CLIENT_ID, type ServerSpec } from './protocol.js';

export function oursConfig(spec: ServerSpec): Config {
  const users = Array.from({ length: spec.users }, (_, i) => ({
    email: benchEmail(i),
    firstName: `User${i}`,
    registrations: [{ applicationId: BENCH_CLIENT_ID, roles: [] }],
  }));
  const defaults = loadConfig({ env: {} });
  return loadConfig({
    env: {},
    overrides: {
      port: 0,
      ...(spec.ttlSeconds === null
        ? {}
        : {
            ttl: cappedTtl(defaults.ttl, spec.ttlSeconds),
            passwordless: { timeToLiveInSeconds: Math.min(defaults.passwordless.timeToLiveInSeconds, spec.ttlSeconds) },
            api: { refreshTokenTimeToLiveInMinutes: Math.max(1, Math.ceil(Math.min(defaults.api.refreshTokenTimeToLiveInMinutes * 60, spec.ttlSeconds) / 60)) },
          }),
      clients: [{ ...spec.client, grant_types: ['authorization_code', 'refresh_token'], client_name: 'Bench', first_party: true }],
      users,
      apiKeys: [{ key: spec.apiKey, description: 'bench', permissions: { '*': ['*'] } }],
      jwks: spec.jwks,
      cookieKeys: spec.cookieKeys,
      // Off by default: the flows reuse addresses far faster than any real user. BENCH_RATE_LIMITS=on
      // counts every budget as production does, with limits too high to bite, to measure their cost.
      rateLimits: process.env.BENCH_RATE_LIMITS === 'on' ? unbindingLimits() : { enabled: false },
      demo: { enabled: false },
      // The `metrics` contender: ours with every metric counted, as an operator runs it (scraped with a token).
      metrics: spec.kind === 'metrics' ? { enabled: true, token: spec.apiKey } : { enabled: false },
      // The `webhooks` contender: every event stored and posted to the driver's receiver, signed.
      // The `posts` contender has the same webhook, for its events to be built (bench/server.ts then posts them bare).
      webhooks: (spec.kind === 'webhooks' || spec.kind === 'posts') && spec.webhookUrl ? [{ id: 'bench', url: spec.webhookUrl, events: spec.webhookEvents, secret: spec.apiKey }] : [],
      mail: { smtpUrl: spec.smtpUrl, devMailboxSize: 1000 },
      storage: { mongodbUri: spec.mongodbUri },
    },
  });
}

/** Every rate limit on, each far above what a run reaches: the counting is measured, no refusal happens. */
function unbindingLimits() {
  const huge = { limit: 1_000_000_000, windowSeconds: 3600 };
  return {
    enabled: true,
    sendPerAddress: huge,
    sendPerIp: huge,
    sendGlobal: huge,
    typedCodesPerAccount: huge,
    wrongCodesPerIp: huge,
    wrongCodesGlobal: huge,
  };
}
