/**
 * Structured logging: one JSON object per line on stdout. Callers pass facts, never
 * secrets (codes, keys, tokens, links); `redact` is the last line of defence for
 * field names that could carry one.
 */
type Level = 'debug' | 'info' | 'warn' | 'error';
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

const SECRET_FIELDS = /^(code|oneTimeCode|shortCode|linkCode|link|token|refreshToken|key|apiKey|secret|password|authorization|cookie)$/i;

/** The values LOG_LEVEL takes, in any letter case. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;

/** Whether LOG_LEVEL may be `name` (unset or empty means info). Start-up refuses any other value. */
export function isLogLevel(name: string | undefined): boolean {
  return !name || (LOG_LEVELS as readonly string[]).includes(name.toLowerCase());
}

function levelNamed(name: string | undefined): number {
  const configured = (name || 'info').toLowerCase() as Level | 'silent';
  return configured === 'silent' ? Infinity : order[configured] ?? order.info;
}

// LOG_LEVEL is read once, at the first log call: reading process.env on every call was about
// 1 % of an API request's CPU. Tests that need another level use setLogLevel.
let current: number | undefined;

function threshold(): number {
  return (current ??= levelNamed(process.env.LOG_LEVEL));
}

/** Sets the level (`debug`, `info`, `warn`, `error` or `silent`); undefined reads LOG_LEVEL again. */
export function setLogLevel(name: string | undefined): void {
  current = levelNamed(name ?? process.env.LOG_LEVEL);
}

function redact(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) out[key] = SECRET_FIELDS.test(key) ? '[redacted]' : value;
  return out;
}

/** Sees every event, whatever the level, before redaction: metrics count them (their labels never hold a field's raw value). */
export type EventTap = (event: string, fields: Readonly<Record<string, unknown>>) => void;

const taps = new Set<EventTap>();

/** Calls `tap` with every event logged from now on; the function returned stops it. */
export function tapEvents(tap: EventTap): () => void {
  taps.add(tap);
  return () => void taps.delete(tap);
}

function write(level: Level, event: string, fields: Record<string, unknown>): void {
  for (const tap of taps) tap(event, fields);
  if (order[level] < threshold()) return;
  const line = JSON.stringify({ time: new Date().toISOString(), level, event, ...redact(fields) });
  process.stdout.write(`${line}\n`);
}

export const log = {
  /** Whether a line of this level would be written (skip building costly fields when not). */
  enabled: (level: Level): boolean => order[level] >= threshold(),
  debug: (event: string, fields: Record<string, unknown> = {}) => write('debug', event, fields),
  info: (event: string, fields: Record<string, unknown> = {}) => write('info', event, fields),
  warn: (event: string, fields: Record<string, unknown> = {}) => write('warn', event, fields),
  error: (event: string, fields: Record<string, unknown> = {}) => write('error', event, fields),
};

/** An error's name and message, without its stack, for a log line. */
export function describeError(err: unknown): Record<string, unknown> {
  return err instanceof Error ? { error: err.name, message: err.message } : { error: String(err) };
}
