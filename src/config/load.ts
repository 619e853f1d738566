import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { configSchema, type Config } from './schema.js';
import { linkCodeEntropyBits } from '../passwordless/generators.js';
import { isLogLevel, LOG_LEVELS } from '../log.js';

/** Thrown when the configuration cannot be used; the message names every bad key. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'config_invalid';
}

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

type Json = Record<string, unknown>;

function isPlainObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Objects merge key by key; arrays and scalars replace. */
export function deepMerge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return out;
}

/** Keys starting with `//` document default.json and are not settings. */
function stripDocumentation(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripDocumentation);
  if (!isPlainObject(value)) return value;
  const out: Json = {};
  for (const [key, inner] of Object.entries(value)) {
    if (!key.startsWith('//')) out[key] = stripDocumentation(inner);
  }
  return out;
}

function readJsonFile(file: string): Json {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (!isPlainObject(parsed)) throw new Error('the top level must be an object');
    return parsed;
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid JSON: ${(err as Error).message}`);
  }
}

function envOverrides(env: NodeJS.ProcessEnv): Json {
  const out: Json = {};
  if (env.PORT !== undefined && env.PORT !== '') {
    const port = Number(env.PORT);
    out.port = Number.isInteger(port) ? port : env.PORT;
  }
  if (env.ISSUER) out.issuer = env.ISSUER;
  if (env.MONGODB_URI) out.storage = { mongodbUri: env.MONGODB_URI };
  if (env.SMTP_URL) out.mail = { smtpUrl: env.SMTP_URL };
  return out;
}

/** Environment variables read elsewhere that start-up must still refuse when wrong. */
function checkEnvironment(env: NodeJS.ProcessEnv): string[] {
  if (isLogLevel(env.LOG_LEVEL)) return [];
  return [`  - LOG_LEVEL: must be one of ${LOG_LEVELS.join(', ')} (any letter case), got ${JSON.stringify(env.LOG_LEVEL)}`];
}

/** A problem with one setting: its path (a validation issue's, or a production gap's) and what is wrong. */
export interface SettingProblem {
  path: readonly PropertyKey[];
  message: string;
}

/** `setting.path: message`, as refusals list problems. */
export function describeProblem(problem: SettingProblem): string {
  return `${problem.path.map(String).join('.') || '(root)'}: ${problem.message}`;
}

/** One line per issue; a value read from a key file says which file and what it must hold. */
function describeIssues(issues: readonly SettingProblem[], sources: ReadonlyMap<string, string>): string[] {
  return issues.map((issue) => {
    const keyFile = KEY_FILES.find(({ valueKey }) => valueKey === issue.path[0]);
    const source = keyFile && sources.get(keyFile.valueKey);
    const note = keyFile && source ? ` (read from ${source}, which must hold ${keyFile.shape} or the saved output of \`keys generate\`)` : '';
    return `  - ${describeProblem(issue)}${note}`;
  });
}

function checkCrossFieldRules(config: Config): string[] {
  const problems: string[] = [];
  const bits = linkCodeEntropyBits(config.passwordless.linkCode);
  if (bits < 128) {
    problems.push(
      `  - passwordless.linkCode: ${config.passwordless.linkCode.generator} of length ${config.passwordless.linkCode.length} carries ${Math.floor(bits)} bits; a link code needs at least 128 (use randomBytes, length 16 or more)`,
    );
  }
  const short = config.passwordless.shortCode;
  if (short.generator === 'randomBytes' && short.length > 32) {
    problems.push('  - passwordless.shortCode.length: a randomBytes short code takes at most 32 bytes');
  }
  const ids = new Set<string>();
  config.clients.forEach((client, index) => {
    if (ids.has(client.client_id)) problems.push(`  - clients.${index}.client_id: duplicate client_id "${client.client_id}"`);
    ids.add(client.client_id);
  });
  const theme = themeProblem(config.theme);
  if (theme) problems.push(`  - theme: ${theme}`);
  // A try still in flight when its lease ran out could be sent by a second instance at the same time.
  config.webhooks.forEach((hook, index) => {
    if (hook.timeoutMs + 1000 > config.events.leaseSeconds * 1000) {
      problems.push(`  - webhooks.${index}.timeoutMs: ${hook.timeoutMs} ms does not fit in events.leaseSeconds (${config.events.leaseSeconds} s) with a second to spare; raise leaseSeconds or lower timeoutMs`);
    }
  });
  const emails = new Set<string>();
  config.users.forEach((user, index) => {
    const email = user.email.toLowerCase();
    if (emails.has(email)) problems.push(`  - users.${index}.email: duplicate email "${user.email}"`);
    emails.add(email);
  });
  return problems;
}

/** Why `theme` cannot be used (a missing theme would silently show the built-in pages), or null. */
function themeProblem(theme: string | null): string | null {
  if (!theme) return null;
  const folder = path.resolve(theme);
  // A relative path is resolved against the working directory, which is easy to get wrong in a service unit.
  const resolved = folder === theme ? '' : ` (${JSON.stringify(theme)} resolved against the working directory ${process.cwd()})`;
  try {
    if (statSync(folder).isDirectory()) return null;
    return `${folder}${resolved} is not a folder`;
  } catch {
    return `no folder at ${folder}${resolved}`;
  }
}

/** The settings that may be read from a file, with what the file holds. */
const KEY_FILES = [
  { fileKey: 'jwksFile', valueKey: 'jwks', shape: 'a private JWKS ({"keys": [...]})' },
  { fileKey: 'cookieKeysFile', valueKey: 'cookieKeys', shape: 'an array of cookie secrets' },
] as const;

/**
 * `jwksFile` / `cookieKeysFile` name JSON files (a private JWKS; an array of secrets) that
 * instances share, e.g. mounted secrets. Inline values win; the files are read once, here. The
 * saved output of `keys generate` ({ jwks, cookieKeys, twoFactor }) serves for both: each takes
 * its own part. Returns the merged settings and the file each value came from.
 */
function readKeyFiles(merged: Json): { settings: Json; sources: Map<string, string> } {
  const settings: Json = { ...merged };
  const sources = new Map<string, string>();
  for (const { fileKey, valueKey } of KEY_FILES) {
    const file = settings[fileKey];
    if (typeof file === 'string' && (settings[valueKey] === null || settings[valueKey] === undefined)) {
      let content: unknown;
      try {
        content = JSON.parse(readFileSync(path.resolve(file), 'utf8')) as unknown;
      } catch (err) {
        throw new ConfigError(`invalid configuration:\n  - ${fileKey}: cannot read ${file}: ${(err as Error).message}`);
      }
      settings[valueKey] = isKeysGenerateOutput(content, valueKey) ? content[valueKey] : content;
      sources.set(valueKey, `${fileKey} ${file}`);
    }
  }
  return { settings, sources };
}

/** A JWKS has `keys` and cookie keys are an array, so an object with the setting's own name is the `keys generate` file. */
function isKeysGenerateOutput(content: unknown, valueKey: string): content is Json {
  return isPlainObject(content) && valueKey in content && !('keys' in content);
}

/**
 * The top-level settings each problem is about (a root issue names unknown keys), so that a
 * best-effort configuration can be made without them.
 */
function settingsAtFault(issues: readonly { path: readonly PropertyKey[]; keys?: readonly string[] }[]): Set<string> {
  const keys = new Set<string>();
  for (const issue of issues) {
    if (issue.path.length > 0) keys.add(String(issue.path[0]));
    else for (const key of issue.keys ?? []) keys.add(key);
  }
  return keys;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Extra settings merged last (tests). */
  overrides?: Json;
  /**
   * Under NODE_ENV=production, what a deployment still lacks (the server start passes
   * `productionGaps`): when the configuration is refused, they are listed in the same message,
   * so that a start does not have to fail once per kind of mistake. The caller still checks a
   * configuration that loads.
   */
  productionGaps?: (config: Config) => readonly SettingProblem[];
}

/** The public issuer: the configured one, else http://localhost:<the port actually bound>. */
export function resolveIssuer(config: Config, boundPort: number): string {
  return config.issuer ?? `http://localhost:${boundPort}`;
}

/** Reads default.json, the CONFIG file and the environment, validates, and resolves derived values. */
export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const production = env.NODE_ENV === 'production';
  const defaults = stripDocumentation(readJsonFile(path.join(projectRoot, 'config/default.json'))) as Json;
  // default.json's `users` is the development seed (demo@example.com): production never seeds
  // it. Arrays are replaced, not merged, so users a CONFIG file lists still come through.
  if (production) defaults.users = [];
  let merged = defaults;
  if (env.CONFIG) merged = deepMerge(merged, stripDocumentation(readJsonFile(path.resolve(env.CONFIG))) as Json);
  merged = deepMerge(merged, envOverrides(env));
  if (options.overrides) merged = deepMerge(merged, options.overrides);

  const { settings, sources } = readKeyFiles(merged);
  const environmentProblems = checkEnvironment(env);
  const parsed = configSchema.safeParse(settings);
  if (!parsed.success) {
    const problems = [...describeIssues(parsed.error.issues, sources), ...environmentProblems];
    const gaps = production && options.productionGaps ? gapsBesides(settings, defaults, settingsAtFault(parsed.error.issues), options.productionGaps) : [];
    throw refusal(problems, gaps);
  }
  const config = finish(parsed.data, production);
  const problems = [...environmentProblems, ...checkCrossFieldRules(config)];
  if (problems.length > 0) throw refusal(problems, production && options.productionGaps ? options.productionGaps(config) : []);
  return config;
}

function finish(data: Omit<Config, 'production'>, production: boolean): Config {
  return { ...data, issuer: data.issuer?.replace(/\/+$/, '') ?? null, production };
}

function refusal(problems: string[], gaps: readonly SettingProblem[]): ConfigError {
  const message = `invalid configuration:\n${problems.join('\n')}`;
  if (gaps.length === 0) return new ConfigError(message);
  return new ConfigError(`${message}\nNODE_ENV=production also refuses development defaults:\n${gaps.map((g) => `  - ${describeProblem(g)}`).join('\n')}`);
}

/**
 * The production gaps of the configuration with the faulty settings put back to their defaults,
 * leaving out gaps about those settings (their fault is already said); none if even that
 * configuration does not load.
 */
function gapsBesides(
  settings: Json,
  defaults: Json,
  faulty: ReadonlySet<string>,
  productionGaps: (config: Config) => readonly SettingProblem[],
): readonly SettingProblem[] {
  const salvaged: Json = { ...settings };
  for (const key of faulty) {
    if (key in defaults) salvaged[key] = defaults[key];
    else delete salvaged[key];
  }
  const parsed = configSchema.safeParse(salvaged);
  if (!parsed.success) return [];
  return productionGaps(finish(parsed.data, true)).filter((gap) => !faulty.has(String(gap.path[0])));
}
