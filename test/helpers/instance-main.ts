/**
 * One server instance in its own OS process, for tests that need several instances on one
 * database (so nothing can be shared through memory). Configured like `src/main.ts` (CONFIG
 * file + environment); prints `INSTANCE_PORT=<port>` once it serves, stops cleanly on SIGTERM.
 * It differs from main.ts only in announcing the bound port, which main.ts cannot when the
 * issuer names a load balancer rather than the instance.
 */
import { loadConfig } from '../../src/config/load.js';
import { startServer } from '../../src/server.js';

async function run(): Promise<void> {
  const running = await startServer(loadConfig());
  process.once('SIGTERM', () => {
    running.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
  process.stdout.write(`INSTANCE_PORT=${running.port}\n`);
}

run().catch((err: unknown) => {
  process.stderr.write(`instance could not start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
