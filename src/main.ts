import { ConfigError, loadConfig } from './config/load.js';
import { startServer } from './server.js';
import type { Config } from './config/schema.js';
import { productionGaps, riskyChoices } from './config/production.js';
import { describeError, log } from './log.js';
import cluster from 'node:cluster';
import { reportReady, reportStartFailure, superviseWorkers, workerCount } from './cluster.js';

/** Risky choices are allowed, but never quietly: a log line always, and a banner on stderr in production. */
function warnAboutRiskyChoices(config: Config): void {
  const risky = riskyChoices(config);
  for (const warning of risky) log.warn('config.risky', { warning, production: config.production });
  if (config.production && risky.length > 0) {
    process.stderr.write(`\n  WARNING (NODE_ENV=production):\n${risky.map((r) => `  - ${r}`).join('\n')}\n\n`);
  }
}

function printBanner(lines: string[]): void {
  process.stdout.write(['', '  oidc-magic-link is running', ...lines.map((line) => `  ${line}`), '', ''].join('\n'));
}

async function main(): Promise<void> {
  // A refused configuration lists the production gaps too: one failed start shows every fix.
  const config = loadConfig({ productionGaps });
  const workers = workerCount(process.env);
  if (workers > 1 && cluster.isPrimary) {
    const { issuer, failure } = await superviseWorkers(config, workers);
    void failure.then(exitOnStartFailure);
    warnAboutRiskyChoices(config);
    printBanner([`issuer      ${issuer}`, `discovery   ${issuer}/.well-known/openid-configuration`, `workers     ${workers}`]);
    return;
  }
  const running = await startServer(config);
  const { app, issuer } = running;
  // Handlers first: a signal that arrives before them would kill the process without draining.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log.info('server.stopping', { signal });
      running.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
  if (app.store.kind === 'memory') log.warn('storage.memory', { note: 'in-memory store: all state is lost on restart; set MONGODB_URI for production' });
  warnAboutRiskyChoices(app.config);
  if (app.transport.kind === 'dev-mailbox') log.warn('mail.dev_mailbox', { note: `emails are not sent; read them at ${issuer}/dev/mail` });

  if (cluster.isWorker) return reportReady(running.port);
  printBanner([
    `issuer      ${issuer}`,
    `discovery   ${issuer}/.well-known/openid-configuration`,
    ...(app.transport.kind === 'dev-mailbox' ? [`dev mailbox ${issuer}/dev/mail`] : []),
    ...(app.config.demo.enabled && !app.config.production ? [`demo        ${issuer}/demo`] : []),
  ]);
}

function exitOnStartFailure(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
  } else {
    process.stderr.write(`oidc-magic-link could not start: ${err instanceof Error ? err.message : String(err)}\n`);
    log.error('server.start_failed', describeError(err));
  }
  process.exit(1);
}

main().catch(async (err: unknown) => {
  // A worker's reason is printed once, by the primary, which then stops the cluster.
  if (cluster.isWorker) {
    await reportStartFailure(err);
    process.exit(1);
  }
  exitOnStartFailure(err);
});
