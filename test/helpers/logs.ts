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
