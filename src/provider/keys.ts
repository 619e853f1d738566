import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../config/load.js';
import { log } from '../log.js';

export interface KeyMaterial {
  jwks: { keys: JWK[] };
  cookieKeys: string[];
  /** The AES-256-GCM key that seals TOTP secrets (32 bytes). */
  secretKey: Buffer;
  /** Which of them were generated here rather than configured (production refuses these). */
  generated: { jwks: boolean; cookieKeys: boolean; secretKey: boolean };
}

/** A new private signing JWKS: RS256 (required by OIDC) and ES256. */
export async function generateSigningKeys(): Promise<{ keys: JWK[] }> {
  const keys: JWK[] = [];
  for (const alg of ['RS256', 'ES256'] as const) {
    const { privateKey } = await generateKeyPair(alg, { extractable: true });
    keys.push({ ...(await exportJWK(privateKey)), kid: randomUUID(), alg, use: 'sig' });
  }
  return { keys };
}

export function generateCookieKeys(): string[] {
  return [randomBytes(32).toString('base64url')];
}

/** A new `twoFactor.encryptionKey`: 32 random bytes, base64url. */
export function generateSecretKey(): string {
  return randomBytes(32).toString('base64url');
}

interface StoredDevKeys {
  jwks?: { keys: JWK[] };
  cookieKeys?: string[];
  secretKey?: string;
}

/**
 * The development keys kept in `file`; none when there is no file yet. A file that cannot be
 * read or is not what we wrote (truncated by a full disk or an interrupted write, edited by
 * hand) refuses the start and stays as it is: new keys in its place would silently end every
 * session and make every enrolled authenticator unusable.
 */
function readDevKeys(file: string): StoredDevKeys {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw unusableDevKeys(file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw unusableDevKeys(file, 'is not valid JSON (truncated or edited?)');
  }
  if (!isStoredDevKeys(parsed)) throw unusableDevKeys(file, 'does not hold development keys as they are written (jwks, cookieKeys, secretKey)');
  return parsed;
}

/**
 * Keeps newly made development keys. Written whole to a temporary file and renamed into place, so
 * another process starting at the same moment (a cluster worker, the CLI) never reads half a file.
 */
function writeDevKeys(file: string, keys: StoredDevKeys): void {
  const partial = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(partial, JSON.stringify(keys), { mode: 0o600 });
    renameSync(partial, file);
  } catch {
    // A read-only folder only costs sessions across restarts.
    rmSync(partial, { force: true });
  }
}

function isStoredDevKeys(value: unknown): value is StoredDevKeys {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { jwks, cookieKeys, secretKey } = value as Record<string, unknown>;
  const isStrings = (list: unknown): boolean => Array.isArray(list) && list.every((item) => typeof item === 'string');
  return (
    (jwks === undefined || (typeof jwks === 'object' && jwks !== null && Array.isArray((jwks as { keys?: unknown }).keys))) &&
    (cookieKeys === undefined || isStrings(cookieKeys)) &&
    (secretKey === undefined || typeof secretKey === 'string')
  );
}

function unusableDevKeys(file: string, problem: string): ConfigError {
  return new ConfigError(
    `${file} ${problem}. It holds the development keys (token signing, cookies, the key sealing authenticator secrets) and was left as it is: ` +
      'restore it, or delete it to start with new keys (every session ends and every enrolled authenticator has to be enrolled again).',
  );
}

/**
 * Signing keys and cookie keys: from the configuration, else (development) generated once
 * and kept in the data directory so sessions survive restarts.
 */
export async function loadKeys(config: Config): Promise<KeyMaterial> {
  const configuredSecret = config.twoFactor.encryptionKey;
  const generated = { jwks: config.jwks === null, cookieKeys: config.cookieKeys === null, secretKey: configuredSecret === null };
  if (!generated.jwks && !generated.cookieKeys && configuredSecret !== null) {
    return { jwks: config.jwks as { keys: JWK[] }, cookieKeys: config.cookieKeys as string[], secretKey: Buffer.from(configuredSecret, 'base64url'), generated };
  }
  if (config.production) {
    // Development keys are never made, read or written in production. The server's start refuses
    // earlier (assertProductionReady); this guards what skips it, such as the CLI's `users 2fa`.
    const missing = [generated.jwks && 'jwks', generated.cookieKeys && 'cookieKeys', generated.secretKey && 'twoFactor.encryptionKey'].filter(Boolean);
    throw new ConfigError(`NODE_ENV=production refuses development keys: configure ${missing.join(', ')} (generate them with \`npm run cli -- keys generate\`)`);
  }
  const file = path.resolve(config.dataDirectory, 'dev-keys.json');
  const stored = readDevKeys(file);
  const jwks = (config.jwks as { keys: JWK[] } | null) ?? stored.jwks ?? (await generateSigningKeys());
  const cookieKeys = config.cookieKeys ?? stored.cookieKeys ?? generateCookieKeys();
  // Kept like the others: a new key on every start would make enrolled authenticators unusable.
  const secretKey = configuredSecret ?? stored.secretKey ?? generateSecretKey();
  const made = (generated.jwks && !stored.jwks) || (generated.cookieKeys && !stored.cookieKeys) || (generated.secretKey && !stored.secretKey);
  if (made) {
    writeDevKeys(file, {
      jwks: stored.jwks ?? (generated.jwks ? jwks : undefined),
      cookieKeys: stored.cookieKeys ?? (generated.cookieKeys ? cookieKeys : undefined),
      secretKey: stored.secretKey ?? (generated.secretKey ? secretKey : undefined),
    });
  }
  log.warn('keys.generated', {
    note: 'development keys in use; set jwks, cookieKeys and twoFactor.encryptionKey in the config for production',
    file,
  });
  return { jwks, cookieKeys, secretKey: Buffer.from(secretKey, 'base64url'), generated };
}
