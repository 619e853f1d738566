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

function describeIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues.map((issue) => `  - ${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`).join('\n');
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

/**
 * `jwksFile` / `cookieKeysFile` name JSON files (a private JWKS; an array of secrets) that
 * instances share, e.g. mounted secrets. Inline values win; the files are read once, here.
 */
function readKeyFiles(merged: Json): Json {
  const out: Json = { ...merged };
  for (const [fileKey, valueKey] of [['jwksFile', 'jwks'], ['cookieKeysFile', 'cookieKeys']] as const) {
    const file = out[fileKey];
    if (typeof file === 'string' && (out[valueKey] === null || out[valueKey] === undefined)) {
      try {
        out[valueKey] = JSON.parse(readFileSync(path.resolve(file), 'utf8')) as unknown;
      } catch (err) {
        throw new ConfigError(`invalid configuration:\n  - ${fileKey}: cannot read ${file}: ${(err as Error).message}`);
      }
    }
  }
  return out;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Extra settings merged last (tests). */
  overrides?: Json;
}

/** The public issuer: the configured one, else http://localhost:<the port actually bound>. */
export function resolveIssuer(config: Config, boundPort: number): string {
  return config.issuer ?? `http://localhost:${boundPort}`;
}

/** Reads default.json, the CONFIG file and the environment, validates, and resolves derived values. */
export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const production = env.NODE_ENV === 'production';
  let merged = stripDocumentation(readJsonFile(path.join(projectRoot, 'config/default.json'))) as Json;
  // default.json's `users` is the development seed (demo@example.com): production never seeds
  // it. Arrays are replaced, not merged, so users a CONFIG file lists still come through.
  if (production) merged.users = [];
  if (env.CONFIG) merged = deepMerge(merged, stripDocumentation(readJsonFile(path.resolve(env.CONFIG))) as Json);
  merged = deepMerge(merged, envOverrides(env));
  if (options.overrides) merged = deepMerge(merged, options.overrides);

  merged = readKeyFiles(merged);
  const environmentProblems = checkEnvironment(env);
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    throw new ConfigError(`invalid configuration:\n${[describeIssues(parsed.error.issues), ...environmentProblems].join('\n')}`);
  }
  const config: Config = {
    ...parsed.data,
    issuer: parsed.data.issuer?.replace(/\/+$/, '') ?? null,
    production,
  };
  const problems = [...environmentProblems, ...checkCrossFieldRules(config)];
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n${problems.join('\n')}`);
  return config;
}
