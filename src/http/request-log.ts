import { randomUUID } from 'node:crypto';
import { log } from '../log.js';

/** Path segments after these carry a secret (a link code) and are never logged. */
const SECRET_AFTER = new Set(['magic', 'passwordless', 'approve']);

/**
 * The REST API's own endpoints under /api/passwordless/: their names are no secret, and the
 * log must tell start, send and login apart. Any other segment there is redacted.
 */
const API_ENDPOINT_NAMES = new Set(['start', 'send', 'login']);

/**
 * A segment as a router might read it: our routers match case-insensitively (/Magic/<code>
 * signs in as /magic/<code> does), so the name is compared in lower case, and percent-decoded.
 */
function segmentName(segment: string): string {
  if (!segment.includes('%')) return segment.toLowerCase();
  try {
    return decodeURIComponent(segment).toLowerCase();
  } catch {
    return segment.toLowerCase();
  }
}

/** Whether segment `i` names one of the REST API's endpoints: /api/passwordless/<start|send|login>. */
function isApiEndpoint(parts: readonly string[], i: number): boolean {
  return i === 3 && segmentName(parts[1] ?? '') === 'api' && API_ENDPOINT_NAMES.has(parts[i]!);
}

/** The request path with every code-bearing segment replaced, and no query string. */
export function redactPath(pathname: string): string {
  const parts = pathname.split('/');
  for (let i = 1; i < parts.length; i += 1) {
    if (parts[i] && SECRET_AFTER.has(segmentName(parts[i - 1] ?? '')) && !isApiEndpoint(parts, i)) parts[i] = '[redacted]';
  }
  return parts.join('/');
}

/** Starts the one log line of a request: its id (the answer carries it as X-Request-Id) and a function that writes the line and returns the request's duration in seconds. */
export function beginRequestLog(method: string, path: string): { id: string; finish(status: number): number } {
  const id = randomUUID();
  const started = process.hrtime.bigint();
  return {
    id,
    finish(status) {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (log.enabled('info')) log.info('request', { requestId: id, method, path: redactPath(path), status, ms: Math.round(seconds * 1e6) / 1000 });
      return seconds;
    },
  };
}
