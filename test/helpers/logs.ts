import { setLogLevel } from '../../src/log.js';

/**
 * Runs `work` with logging at `level` and returns the lines written to stdout meanwhile
 * (tests run silent otherwise). Level and stdout are restored afterwards.
 */
export async function captureLogs(level: 'debug' | 'info', work: () => Promise<void>): Promise<string[]> {
  const original = process.stdout.write.bind(process.stdout);
  let captured = '';
  setLogLevel(level);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    captured += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    await work();
  } finally {
    process.stdout.write = original;
    setLogLevel(undefined);
  }
  return captured.split('\n').filter(Boolean);
}

/** A parsed log line: the event name and its fields. */
export type LogEvent = Record<string, unknown>;

/** The log lines as events, only those named `event` (a name, or a pattern of names) if given. */
export function logEvents(lines: string[], event?: string | RegExp): LogEvent[] {
  const events = lines.map((line) => JSON.parse(line) as LogEvent);
  if (event === undefined) return events;
  return events.filter((e) => (typeof event === 'string' ? e.event === event : event.test(String(e.event))));
}

/** Runs `work` with logging at `level` and returns the events it logged (see logEvents). */
export async function captureLogEvents(level: 'debug' | 'info', work: () => Promise<void>, event?: string | RegExp): Promise<LogEvent[]> {
  return logEvents(await captureLogs(level, work), event);
}
