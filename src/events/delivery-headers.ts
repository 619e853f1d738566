import { JWT_HEADER } from './signature.js';

/** Headers every delivery carries, the same on every try; a webhook's own `headers` go with them. */
export const FIXED_HEADERS: Readonly<Record<string, string>> = { 'Content-Type': 'application/json', 'User-Agent': 'oidc-magic-link-webhooks' };

/** Our own per-try headers (event id and type, attempt, the timestamped signature) all begin with this. */
const OWN_PREFIX = 'x-oml-';

/** HTTP framing, the fixed headers and FusionAuth's signature: set by the client or the sender. */
const TAKEN = new Set(['host', 'connection', 'content-length', 'transfer-encoding', ...Object.keys(FIXED_HEADERS), JWT_HEADER].map((name) => name.toLowerCase()));

/** Whether a webhook's own `headers` may not set `name`: the request would carry it twice. */
export function isSenderHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return TAKEN.has(lower) || lower.startsWith(OWN_PREFIX);
}
