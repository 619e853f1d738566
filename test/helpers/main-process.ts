import { spawn } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');

export interface MainRun {
  output: string;
  code: number | null;
  /** Milliseconds from spawn to exit. */
  elapsedMs: number;
}

/**
 * Runs `src/main.ts` as `npm start` does. Sends SIGTERM once `until` matches its output;
 * resolves when it exits; rejects (after killing it) if it neither exits nor matches in time.
 */
export function runMain(env: NodeJS.ProcessEnv, until: RegExp, timeoutMs = 60_000): Promise<MainRun> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: root,
      env: { ...process.env, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let signalled = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out; output so far:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (!signalled && until.test(output)) {
        signalled = true;
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ output, code, elapsedMs: Date.now() - started });
    });
  });
}
