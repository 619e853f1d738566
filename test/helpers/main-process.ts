import { spawn, type ChildProcess } from 'node:child_process';
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

export interface ProcessEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A process of the project started by a test, its output collected. */
export interface StartedProcess {
  child: ChildProcess;
  /** The process's id; its process group has the same id (it is spawned detached). */
  pid: number;
  output(): string;
  /** The first match of `pattern` in the output; rejects if the process exits first or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  /** How the process itself exited (its children may still run). */
  exited: Promise<ProcessEnd>;
  /**
   * How it exited, once it has exited and its output streams have closed (they close only when
   * every process holding them, a server or worker it started included, has gone); null if not
   * within `timeoutMs`.
   */
  ended(timeoutMs: number): Promise<ProcessEnd | null>;
  /** SIGKILLs whatever is left in its process group (anything a failed test orphaned). */
  killGroup(): void;
}

/** `promise`, or what `onTimeout` gives if it has not settled within `timeoutMs`. */
export function within<T>(promise: Promise<T>, timeoutMs: number, onTimeout: () => T | Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(onTimeout()), timeoutMs)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Runs `command args` in the project, as CI or a process manager would, in a process group of
 * its own (LOG_LEVEL warn unless `env` says otherwise). Whatever is left of the group is killed
 * when mocha exits, so a test that fails or times out leaves nothing running.
 */
export function startProcess(command: string, args: string[], env: NodeJS.ProcessEnv): StartedProcess {
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${command} could not be spawned`);
  let output = '';
  const onData = (chunk: Buffer): void => {
    output += chunk.toString();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const killGroup = (): void => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // ESRCH: nothing left in the group.
    }
  };
  process.once('exit', killGroup);
  const exited = new Promise<ProcessEnd>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const closed = new Promise<ProcessEnd>((resolve) => child.once('close', (code, signal) => resolve({ code, signal }))).finally(() => process.off('exit', killGroup));
  return {
    child,
    pid,
    output: () => output,
    waitFor(pattern, timeoutMs) {
      const matched = new Promise<RegExpExecArray>((resolve, reject) => {
        const check = (): void => {
          const found = pattern.exec(output);
          if (!found) return;
          child.stdout.off('data', check);
          child.stderr.off('data', check);
          resolve(found);
        };
        child.stdout.on('data', check);
        child.stderr.on('data', check);
        check();
        void closed.then(() => reject(new Error(`${command} exited before ${pattern}; output:\n${output}`)));
      });
      return within(matched, timeoutMs, () => Promise.reject(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${output}`)));
    },
    exited,
    ended: (timeoutMs) => within<ProcessEnd | null>(closed, timeoutMs, () => null),
    killGroup,
  };
}

/** Runs `npm <args>` in the project (see startProcess). */
export function startNpm(args: string[], env: NodeJS.ProcessEnv): StartedProcess {
  return startProcess('npm', args, env);
}
