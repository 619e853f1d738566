import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config/load.js';
import { apiKeyPermissions, type Config } from './config/schema.js';
import { openStore } from './storage/index.js';
import { DuplicateKeyError, WEBHOOK_DELIVERY_STATUSES, type Store, type UserRecord, type WebhookDeliveryStatus } from './storage/types.js';
import { applyUserSeed } from './accounts/users.js';
import { createUser, deleteUser, findUser, registerUser, updateUser } from './accounts/admin.js';
import { createApiKey, type Permissions } from './api/api-keys.js';
import { generateCookieKeys, generateSecretKey, generateSigningKeys, loadKeys } from './provider/keys.js';
import { SecretBox } from './accounts/secret-box.js';
import { TwoFactorService } from './accounts/two-factor.js';
import { newTotpSecret } from './accounts/totp.js';
import { DEMO_CLIENT_ID, demoEnabled } from './provider/clients.js';
import { retentionEnd } from './events/events.js';

/**
 * The command line: user and API-key administration against the configured store, key
 * generation for production configuration, and index creation. Run `oidc-magic-link help`.
 */

const USAGE = `usage: oidc-magic-link <command>

  serve                                   start the server (as npm start)
  migrate                                 create the store's indexes (idempotent)
  keys generate                           print signing keys (jwks), cookieKeys and twoFactor.encryptionKey for a production config
  users add <email> [--first-name N] [--last-name N] [--language L] [--register APP] [--roles a,b] [--locked]
  users show <id|email>
  users list [--limit N] [--offset N]
  users lock <id|email>                   the user can no longer sign in
  users unlock <id|email>
  users delete <id|email>
  users register <id|email> <applicationId> [--roles a,b]
  users 2fa enable <id|email>             enrol an authenticator: prints the otpauth:// URI and ten recovery codes once
  users 2fa disable <id|email>            remove the authenticator (and every device the user trusted)
  api-keys create (--permission PATH=METHOD[,METHOD] ... | --all) [--description TEXT]
                                          prints the new key once; only its hash is stored
  api-keys list
  api-keys revoke <id>
  webhooks list [--status pending|delivered|failed] [--limit N]
                                          webhook deliveries, newest first
  webhooks replay <eventId>               send every delivery of an event again (the same event id)

Reads the same configuration as the server (config/default.json, CONFIG, MONGODB_URI, ...).`;

/** A mistake in the command line: printed with the usage, exit code 2. */
class UsageError extends Error {}

/** The command ran but could not do what was asked (no such user, ...): exit code 1. */
class CommandError extends Error {}

const OPTIONS = {
  'first-name': { type: 'string' },
  'last-name': { type: 'string' },
  language: { type: 'string', multiple: true },
  register: { type: 'string' },
  roles: { type: 'string' },
  locked: { type: 'boolean' },
  limit: { type: 'string' },
  offset: { type: 'string' },
  permission: { type: 'string', multiple: true },
  all: { type: 'boolean' },
  description: { type: 'string' },
  status: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Options = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** Where a run writes (process streams, or a test's buffers) and, optionally, an already opened store. */
export interface CliContext {
  out(text: string): void;
  err(text: string): void;
  store?: Store;
}

const processContext: CliContext = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

let io: CliContext = processContext;

function print(value: unknown): void {
  io.out(typeof value === 'string' ? `${value}\n` : `${JSON.stringify(value, null, 2)}\n`);
}

function positional(args: string[], index: number, name: string): string {
  const value = args[index];
  if (value === undefined || value === '') throw new UsageError(`missing <${name}>`);
  return value;
}

function count(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} takes a whole number, got ${JSON.stringify(value)}`);
  return n;
}

function rolesOf(value: string | undefined): string[] {
  return (value ?? '').split(',').map((r) => r.trim()).filter(Boolean);
}

function knownApplications(config: Config): Set<string> {
  const ids = new Set(config.clients.map((c) => c.client_id));
  if (demoEnabled(config)) ids.add(DEMO_CLIENT_ID);
  return ids;
}

function requireApplication(config: Config, id: string): void {
  if (!knownApplications(config).has(id)) throw new CommandError(`no client has the client_id ${JSON.stringify(id)} in the configuration`);
}

/** `PATH=METHOD,METHOD` options as a permissions map. */
export function parsePermissions(values: readonly string[]): Permissions {
  const permissions: Permissions = {};
  for (const value of values) {
    const match = /^([^=\s]+)=([A-Za-z*,]+)$/.exec(value);
    if (!match) throw new UsageError(`--permission takes PATH=METHOD[,METHOD], e.g. /api/passwordless/start=POST; got ${JSON.stringify(value)}`);
    const [, path, methods] = match as unknown as [string, string, string];
    permissions[path] = [...new Set([...(permissions[path] ?? []), ...methods.split(',').filter(Boolean).map((m) => m.toUpperCase())])];
  }
  // The rules of keys in the configuration, so the CLI cannot store a key that grants nothing.
  const checked = apiKeyPermissions.safeParse(permissions);
  if (!checked.success) {
    // An issue's path is [endpoint] or [endpoint, index of the method]: name the endpoint.
    throw new UsageError(`--permission: ${checked.error.issues.map((issue) => (issue.path.length > 0 ? `${String(issue.path[0])}: ${issue.message}` : issue.message)).join('; ')}`);
  }
  return permissions;
}

async function requireUser(store: Store, ref: string): Promise<UserRecord> {
  const user = await findUser(store.users, ref);
  if (!user) throw new CommandError(`no user ${JSON.stringify(ref)}`);
  return user;
}

function summary(user: UserRecord): string {
  return `${user.id}  ${user.email}${user.active ? '' : '  (locked)'}`;
}

async function usersCommand(store: Store, config: Config, args: string[], options: Options): Promise<void> {
  const action = positional(args, 0, 'users action');
  switch (action) {
    case 'add': {
      const email = positional(args, 1, 'email');
      if (!/^[^@\s]+@[^@\s]+$/.test(email) || email.length > 254) throw new UsageError(`not an email address: ${JSON.stringify(email)}`);
      if (options.register) requireApplication(config, options.register);
      const user = await createUser(store.users, {
        email,
        ...(options['first-name'] !== undefined ? { firstName: options['first-name'] } : {}),
        ...(options['last-name'] !== undefined ? { lastName: options['last-name'] } : {}),
        ...(options.language ? { preferredLanguages: options.language } : {}),
        active: !options.locked,
        ...(options.register ? { registrations: [{ applicationId: options.register, roles: rolesOf(options.roles) }] } : {}),
      }).catch((err: unknown) => {
        if (err instanceof DuplicateKeyError) throw new CommandError(`a user with the email ${email} already exists`);
        throw err;
      });
      return print(`created ${summary(user)}`);
    }
    case 'show':
      return print(await requireUser(store, positional(args, 1, 'id|email')));
    case 'list': {
      const users = await store.users.list({ limit: count(options.limit, 'limit', 100), offset: count(options.offset, 'offset', 0) });
      return print(users.length > 0 ? users.map(summary).join('\n') : '(no users)');
    }
    case 'lock':
    case 'unlock': {
      const user = await requireUser(store, positional(args, 1, 'id|email'));
      await updateUser(store, user.id, { active: action === 'unlock' });
      return print(`${action === 'lock' ? 'locked' : 'unlocked'} ${user.email}`);
    }
    case 'delete': {
      const user = await requireUser(store, positional(args, 1, 'id|email'));
      await deleteUser(store, user.id);
      return print(`deleted ${user.email}`);
    }
    case 'register': {
      const user = await requireUser(store, positional(args, 1, 'id|email'));
      const applicationId = positional(args, 2, 'applicationId');
      requireApplication(config, applicationId);
      const result = await registerUser(store.users, user.id, { applicationId, roles: rolesOf(options.roles) });
      if (!result.ok) throw new CommandError(result.problem === 'already_registered' ? `${user.email} is already registered to ${applicationId}` : `no user ${user.email}`);
      return print(`registered ${user.email} to ${applicationId}${result.registration.roles.length ? ` with roles ${result.registration.roles.join(',')}` : ''}`);
    }
    case '2fa':
      return twoFactorCommand(store, config, args.slice(1));
    default:
      throw new UsageError(`unknown users action ${JSON.stringify(action)}`);
  }
}

async function twoFactorCommand(store: Store, config: Config, args: string[]): Promise<void> {
  const action = positional(args, 0, '2fa action');
  if (action !== 'enable' && action !== 'disable') throw new UsageError(`users 2fa takes enable or disable, got ${JSON.stringify(action)}`);
  const user = await requireUser(store, positional(args, 1, 'id|email'));
  const keys = await loadKeys(config);
  const service = new TwoFactorService(store, new SecretBox(keys.secretKey), {
    issuerName: config.twoFactor.issuerName,
    trustTimeToLiveInSeconds: config.twoFactor.trustTimeToLiveInSeconds,
    wrongCodesPerAccount: null,
  });
  if (action === 'disable') {
    const result = await service.disable(user.id, {});
    if (!result.ok) throw new CommandError(`${user.email} has no authenticator`);
    return print(`two-factor disabled for ${user.email}; trusted devices forgotten`);
  }
  const result = await service.enrol(user.id, newTotpSecret().secretBase32Encoded);
  if (!result.ok) throw new CommandError(result.problem === 'already_enabled' ? `${user.email} already has an authenticator; disable it first` : `no user ${user.email}`);
  print(`two-factor enabled for ${user.email} (method ${result.method.id})`);
  print(`otpauth URI (add it to an authenticator app, e.g. as a QR code):\n  ${result.otpauthUri}`);
  print(`recovery codes (each works once instead of a code):\n${result.recoveryCodes.map((c) => `  ${c}`).join('\n')}`);
  return print('These are shown this once; only the sealed secret and hashes of the codes are stored.');
}

async function apiKeysCommand(store: Store, args: string[], options: Options): Promise<void> {
  const action = positional(args, 0, 'api-keys action');
  switch (action) {
    case 'create': {
      if (options.all && options.permission) throw new UsageError('give either --all or --permission, not both');
      if (!options.all && !options.permission) throw new UsageError('a key needs permissions: --permission PATH=METHOD (repeatable) or --all');
      const permissions: Permissions = options.all ? { '*': ['*'] } : parsePermissions(options.permission ?? []);
      const { key, record } = await createApiKey(store.apiKeys, { description: options.description ?? '', permissions });
      print(`id          ${record.id}`);
      print(`permissions ${JSON.stringify(permissions)}`);
      print(`key         ${key}`);
      return print('The key is shown this once; only its hash is stored.');
    }
    case 'list': {
      const keys = await store.apiKeys.list();
      return print(keys.length > 0 ? keys.map((k) => `${k.id}  ${JSON.stringify(k.permissions)}  ${k.description}`).join('\n') : '(no API keys in the store)');
    }
    case 'revoke': {
      const id = positional(args, 1, 'id');
      if (!(await store.apiKeys.delete(id))) throw new CommandError(`no API key with id ${JSON.stringify(id)}`);
      return print(`revoked ${id}`);
    }
    default:
      throw new UsageError(`unknown api-keys action ${JSON.stringify(action)}`);
  }
}

async function webhooksCommand(store: Store, events: Config['events'], args: string[], options: Options): Promise<void> {
  const action = positional(args, 0, 'webhooks action');
  switch (action) {
    case 'list': {
      const status = options.status;
      if (status !== undefined && !(WEBHOOK_DELIVERY_STATUSES as readonly string[]).includes(status)) throw new UsageError(`--status is one of ${WEBHOOK_DELIVERY_STATUSES.join(', ')}`);
      const limit = options.limit === undefined ? 100 : Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit is a whole number from 1 to 1000');
      const deliveries = await store.webhookDeliveries.list({ limit, ...(status ? { status: status as WebhookDeliveryStatus } : {}) });
      if (deliveries.length === 0) return print('(no webhook deliveries)');
      return print(
        deliveries
          .map((d) => `${new Date(d.createdAt).toISOString()}  ${d.eventId}  ${d.type}  → ${d.webhookId}  ${d.status}  tries ${d.attempts}${d.lastError ? `  last: ${d.lastError}` : ''}`)
          .join('\n'),
      );
    }
    case 'replay': {
      const eventId = positional(args, 1, 'eventId');
      const now = Date.now();
      const count = await store.webhookDeliveries.requeueEvent(eventId, now, retentionEnd(events, now));
      if (count === 0) throw new CommandError(`no deliveries of event ${JSON.stringify(eventId)} (delivered and failed ones are kept events.retainDays)`);
      return print(`queued ${count} ${count === 1 ? 'delivery' : 'deliveries'} of ${eventId} again; a running server sends them`);
    }
    default:
      throw new UsageError(`unknown webhooks action ${JSON.stringify(action)}`);
  }
}

/**
 * Opens the configured store, runs `work`, closes it. The `users` seed is written by the
 * server's start and by `migrate` only (`seed`), so that other commands (even the read-only
 * ones) never write it into a lasting store; a memory store lives only for this command, so it
 * gets the seed to look as the server would see it. Under NODE_ENV=production there is no
 * memory store: without MONGODB_URI the command is refused.
 */
async function withStore(config: Config, work: (store: Store) => Promise<void>, seed = false): Promise<void> {
  if (io.store) return work(io.store);
  // Production would otherwise "succeed" into a store that vanishes when the command exits.
  if (config.production && !config.storage.mongodbUri) {
    throw new CommandError('NODE_ENV=production: set MONGODB_URI to the server\'s database; the in-memory store would lose whatever this command does when it exits');
  }
  const store = await openStore(config);
  try {
    if (store.kind === 'memory') io.err('note: the memory store is in use; changes are lost when this command exits (set MONGODB_URI)\n');
    await store.init();
    if (seed || store.kind === 'memory') await applyUserSeed(store.users, config.users);
    await work(store);
  } finally {
    await store.close();
  }
}

/** Runs one command line; resolves to the process exit code. */
export async function runCli(argv: string[], context: CliContext = processContext): Promise<number> {
  io = context;
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const [command, ...rest] = parsed.positionals;
  const options = parsed.values;
  if (!command || command === 'help' || options.help) {
    print(USAGE);
    return command || options.help ? 0 : 2;
  }
  try {
    if (command === 'serve') {
      await import('./main.js');
      return -1;
    }
    if (command === 'keys') {
      if (rest[0] !== 'generate') throw new UsageError('keys takes one action: generate');
      print({ jwks: await generateSigningKeys(), cookieKeys: generateCookieKeys(), twoFactor: { encryptionKey: generateSecretKey() } });
      return 0;
    }
    const config = loadConfig();
    switch (command) {
      case 'migrate':
        await withStore(config, async (store) => print(`store ready (${store.kind})`), true);
        return 0;
      case 'users':
        await withStore(config, (store) => usersCommand(store, config, rest, options));
        return 0;
      case 'api-keys':
        await withStore(config, (store) => apiKeysCommand(store, rest, options));
        return 0;
      case 'webhooks':
        await withStore(config, (store) => webhooksCommand(store, config.events, rest, options));
        return 0;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    if (err instanceof CommandError || err instanceof ConfigError) {
      io.err(`${err.message}\n`);
      return 1;
    }
    io.err(`failed: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

// Run when this file is the program (tsx src/cli.ts) or through the bin launcher; importing it does nothing.
const invokedDirectly = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly || process.env.OIDC_MAGIC_LINK_CLI === '1') {
  runCli(process.argv.slice(2)).then((code) => {
    // serve keeps running; every other command ends here.
    if (code >= 0) process.exit(code);
  });
}
