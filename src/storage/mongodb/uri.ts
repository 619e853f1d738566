/** Database used when the URI names none. */
export const DEFAULT_DATABASE = 'oidc_magic_link';

export interface MongoUriParts {
  /** The host list as written (`host:port,host2:port`), without credentials: safe to show. */
  hosts: string;
  /** Database named by the URI path, or {@link DEFAULT_DATABASE}. */
  database: string;
}

const SCHEME = /^mongodb(\+srv)?:\/\//;

/**
 * Splits a `mongodb://` or `mongodb+srv://` URI by hand: WHATWG URL cannot parse a
 * comma-separated host list, and we must never echo the credentials.
 */
export function parseMongoUri(uri: string): MongoUriParts {
  const scheme = SCHEME.exec(uri)?.[0];
  if (!scheme) throw new Error('a MongoDB URI starts with mongodb:// or mongodb+srv://');
  const beforeQuery = uri.slice(scheme.length).split('?')[0] ?? '';
  const slash = beforeQuery.indexOf('/', beforeQuery.lastIndexOf('@') + 1);
  const authority = slash === -1 ? beforeQuery : beforeQuery.slice(0, slash);
  const path = slash === -1 ? '' : beforeQuery.slice(slash + 1);
  return {
    hosts: authority.slice(authority.lastIndexOf('@') + 1),
    database: path ? decodeURIComponent(path) : DEFAULT_DATABASE,
  };
}

/** `text` with the URI's password (as written and decoded) masked, for error messages. */
export function redactCredentials(text: string, uri: string): string {
  const scheme = SCHEME.exec(uri)?.[0] ?? '';
  const authority = uri.slice(scheme.length).split(/[/?]/)[0] ?? '';
  const at = authority.lastIndexOf('@');
  const colon = authority.indexOf(':');
  if (at === -1 || colon === -1 || colon > at) return text;
  const password = authority.slice(colon + 1, at);
  const secrets = [password, safeDecode(password)].filter((secret) => secret.length > 0);
  return secrets.reduce((redacted, secret) => redacted.split(secret).join('***'), text);
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
