import type { Config } from './schema.js';
import { ConfigError, describeProblem, type SettingProblem } from './load.js';
import { isReservedDomain, senderDomain } from '../mail/sender.js';

/**
 * One thing a production deployment still lacks, tagged with the setting it is about, so that a
 * refusal can leave out gaps about settings already at fault without reading them back out of
 * the text.
 */
export type ProductionGap = SettingProblem;

const gap = (setting: string, message: string): ProductionGap => ({ path: setting.split('.'), message });

/** What a production deployment still lacks; empty when it may start. */
export function productionGaps(config: Config): ProductionGap[] {
  const gaps: ProductionGap[] = [];
  if (!config.storage.mongodbUri) gaps.push(gap('storage', 'set MONGODB_URI (the in-memory store loses everything on restart and cannot be shared)'));
  if (!config.mail.smtpUrl) gaps.push(gap('mail', 'set SMTP_URL (the dev mailbox sends nothing)'));
  const fromGap = senderGap(config.mail.from);
  if (fromGap) gaps.push(fromGap);
  if (!config.jwks) gaps.push(gap('jwks', 'configure signing keys (generate them with `npm run cli -- keys generate`)'));
  if (!config.cookieKeys) gaps.push(gap('cookieKeys', 'configure cookie secrets (generate them with `npm run cli -- keys generate`)'));
  if (!config.twoFactor.encryptionKey) gaps.push(gap('twoFactor.encryptionKey', 'configure the key that seals TOTP secrets (generate it with `npm run cli -- keys generate`)'));
  gaps.push(...examplePlaceholders(config));
  config.webhooks.forEach((hook, i) => {
    if (hook.url.toLowerCase().startsWith('http:') && !hook.allowInsecureUrl) {
      gaps.push({ path: ['webhooks', i, 'url'], message: 'must be https (events carry user data); set allowInsecureUrl for a receiver on a private network' });
    }
  });
  if (config.metrics.enabled && config.metrics.port === null && config.metrics.token === null) {
    gaps.push(gap('metrics', 'metrics on the main port need metrics.token (scrapers send it as a bearer token), or a metrics.port of their own'));
  }
  if (!config.issuer) gaps.push(gap('issuer', 'set ISSUER to the public https URL'));
  else if (config.issuer.startsWith('http:') && !config.allowInsecureIssuer) {
    gaps.push(gap('issuer', 'must be https (set allowInsecureIssuer only when a TLS proxy in front rewrites the scheme)'));
  }
  return gaps;
}

/** The default sender is at localhost: production mail must come from a domain that can take replies and bounces. */
function senderGap(from: string): ProductionGap | null {
  const domain = senderDomain(from);
  if (domain && !isReservedDomain(domain)) return null;
  const what = domain ? `is at ${domain}, a name reserved for local use or examples that cannot receive mail` : 'carries no email address';
  return gap('mail.from', `${what}; set mail.from to a sender at your own domain, such as "Sign-in <no-reply@login.your-company.com>"`);
}

/**
 * Secrets anyone can read: the example configuration's say "change-me", and the README shows
 * these as it teaches the format. A published value must not guard production.
 */
const EXAMPLE_PLACEHOLDER = /change-me/i;
const EXAMPLE_VALUES: ReadonlySet<string> = new Set([
  // README, "Adding a client".
  'a-long-random-secret',
  // README, API keys' permissions.
  '…at least 16 characters…',
  // docs/webhooks.md, Configuration.
  'a-long-random-secret-only-you-and-we-know',
]);

function isExampleValue(value: string): boolean {
  return EXAMPLE_PLACEHOLDER.test(value) || EXAMPLE_VALUES.has(value.trim());
}

function examplePlaceholders(config: Config): ProductionGap[] {
  const gaps: ProductionGap[] = [];
  config.clients.forEach((client, i) => {
    if (typeof client.client_secret === 'string' && isExampleValue(client.client_secret)) gaps.push({ path: ['clients', i, 'client_secret'], message: 'still an example value from the documentation; set a long random secret' });
  });
  config.webhooks.forEach((hook, i) => {
    if (isExampleValue(hook.secret)) gaps.push({ path: ['webhooks', i, 'secret'], message: 'still an example value from the documentation; set a long random secret' });
  });
  config.apiKeys.forEach((apiKey, i) => {
    if (isExampleValue(apiKey.key)) gaps.push({ path: ['apiKeys', i, 'key'], message: 'still an example value from the documentation; create keys with `npm run cli -- api-keys create` or set a long random one' });
  });
  return gaps;
}

/**
 * Settings a deployment may choose but must not miss: start-up prints them loudly. Rate limits
 * off (meant for load tests) and an SMTP certificate left unchecked (meant for a test server).
 */
export function riskyChoices(config: Config): string[] {
  const risky: string[] = [];
  if (!config.rateLimits.enabled) risky.push('rateLimits.enabled is false: sign-in emails and typed codes are NOT rate-limited (meant for load tests only)');
  // Only SMTP reads it; the development mailbox has no server to check.
  if (config.mail.smtpUrl && !config.mail.smtp.tls.rejectUnauthorized) {
    risky.push("mail.smtp.tls.rejectUnauthorized is false: the SMTP server's certificate is NOT checked, so whoever sits in between can read every sign-in link (meant for a test server only)");
  }
  return risky;
}

/** Rule 12: NODE_ENV=production refuses to start on development defaults, listing all of them at once. */
export function assertProductionReady(config: Config): void {
  if (!config.production) return;
  const gaps = productionGaps(config);
  if (gaps.length > 0) {
    throw new ConfigError(`NODE_ENV=production refuses development defaults:\n${gaps.map((g) => `  - ${describeProblem(g)}`).join('\n')}`);
  }
}
