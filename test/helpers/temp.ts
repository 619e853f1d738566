import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const left = new Set<string>();

/**
 * A new directory under the OS temp folder, named `<prefix>XXXXXX` (`oml-test-`, `oml-theme-`…).
 * Whoever makes one removes it when done with {@link removeTempDir} (a test's after hook, a
 * helper's stop); any still here when the test process exits (a test that failed before its
 * cleanup could run) go then. Some hold generated private keys (dev-keys.json).
 */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  left.add(dir);
  return dir;
}

/** Removes a directory {@link makeTempDir} made, with everything in it (none: an after hook whose before failed early). */
export function removeTempDir(dir: string | undefined): void {
  if (!dir) return;
  rmSync(dir, { recursive: true, force: true });
  left.delete(dir);
}

// Synchronous: 'exit' handlers cannot wait (mocha --exit ends the process this way).
process.once('exit', () => {
  for (const dir of left) rmSync(dir, { recursive: true, force: true });
});

/**
 * For the tests of one describe block (call it in the block's body): a maker of temp dirs, each
 * removed after the test that made it, passed or failed.
 */
export function tempDirsPerTest(): (prefix: string) => string {
  const made: string[] = [];
  afterEach(() => {
    for (const dir of made.splice(0)) removeTempDir(dir);
  });
  return (prefix) => {
    const dir = makeTempDir(prefix);
    made.push(dir);
    return dir;
  };
}
