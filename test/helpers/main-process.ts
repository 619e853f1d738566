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

export interface NpmRun {
  /** The npm process's id; its process group has the same id (it is spawned detached). */
  pid: number;
  output(): string;
  /** Resolves once `pattern` is in the output; rejects if npm exits first or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<void>;
  /**
   * How npm exited, once it has exited and its output streams have closed (they close only when
   * every process holding them, the server included, has gone); null if not within `timeoutMs`.
   */
  ended(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | null>;
  /** SIGKILLs whatever is left in npm's process group (anything a failed test orphaned). */
  killGroup(): void;
}

/** Runs `npm <args>` in the project, as CI or a process manager would, in a process group of its own. */
export function startNpm(args: string[], env: NodeJS.ProcessEnv): NpmRun {
  const child = spawn('npm', args, {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  const onData = (chunk: Buffer): void => {
    output += chunk.toString();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error('npm could not be spawned');
  const within = <T>(promise: Promise<T>, timeoutMs: number, onTimeout: () => T | Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(onTimeout()), timeoutMs)));
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  };
  return {
    pid,
    output: () => output,
    waitFor(pattern, timeoutMs) {
      const matched = new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (!pattern.test(output)) return;
          child.stdout.off('data', check);
          child.stderr.off('data', check);
          resolve();
        };
        child.stdout.on('data', check);
        child.stderr.on('data', check);
        check();
        void closed.then(() => reject(new Error(`npm exited before ${pattern}; output:\n${output}`)));
      });
      return within(matched, timeoutMs, () => Promise.reject(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${output}`)));
    },
    ended: (timeoutMs) => within<{ code: number | null; signal: NodeJS.Signals | null } | null>(closed, timeoutMs, () => null),
    killGroup() {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // ESRCH: nothing left in the group.
      }
    },
  };
}
