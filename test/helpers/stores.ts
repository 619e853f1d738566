import { startMongoTarget, type MongoTarget } from './mongo-engine.js';

/**
 * Runs `define` twice: against what `start` builds on a memory store (`mongodbUri` null), then
 * on a fresh database of the MongoDB target the suite uses (MONGODB_URI or the bundled wire
 * engine), skipped when none can run here. `current()` is what `start` built for the case
 * running; it is stopped after the case, and the MongoDB target with it.
 */
export function onEachStore<T extends { stop(): Promise<void> }>(start: (mongodbUri: string | null) => Promise<T>, define: (current: () => T) => void): void {
  describe('memory store', () => {
    let started: T | null = null;
    before(async () => {
      started = await start(null);
    });
    after(async () => {
      await started?.stop();
    });
    define(() => started!);
  });

  onMongoStore(start, define);
}

/**
 * Runs `define` once, on a fresh database of the suite's MongoDB target (MONGODB_URI or the
 * bundled wire engine), skipped when none can run here; `current()` is what `start` built on it,
 * stopped after the cases, and the target with it.
 */
export function onMongoStore<T extends { stop(): Promise<void> }>(start: (mongodbUri: string) => Promise<T>, define: (current: () => T) => void, title = 'MongoDB store'): void {
  describe(title, function () {
    // The test engine is JVM-based and the machine may be busy.
    this.timeout(60_000);
    let target: MongoTarget | null = null;
    let started: T | null = null;
    before(async function () {
      target = await startMongoTarget();
      if (!target) return this.skip();
      started = await start(target.freshUri());
    });
    after(async () => {
      await started?.stop();
      await target?.stop();
    });
    define(() => started!);
  });
}
