import { type Config, ConfigError, type DatabaseConnection, loadConfig } from '../config/index.js';
import { Poolpilot } from '../core/index.js';
import { type EmbeddedDatabase, startEmbeddedDatabase } from '../embedded/index.js';
import { createApp } from './app.js';
import { createLogger, logOptimizations, logSlowStatements } from './logger.js';
import { shutdown } from './shutdown.js';

/**
 * `npm start`: configuration, then the database (embedded when none is configured), the pools,
 * and the HTTP + WebSocket server. SIGINT/SIGTERM drain it (`shutdown.ts`) and exit 0; a second
 * signal exits at once with 1.
 */
async function main(): Promise<void> {
  let config: Readonly<Config>;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`poolpilot: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const log = createLogger(config.logLevel);
  const started = performance.now();
  // A signal while the embedded PostgreSQL starts is remembered and honoured once it is up, so
  // the server (in its own process group, out of reach of the terminal's Ctrl-C) is never orphaned.
  let earlySignal: string | null = null;
  const early = (signal: string) => {
    earlySignal = signal;
  };
  process.on('SIGINT', early);
  process.on('SIGTERM', early);

  let embedded: EmbeddedDatabase | null = null;
  let primary: DatabaseConnection;
  if (config.primary) {
    primary = config.primary;
  } else {
    embedded = await startEmbeddedDatabase({
      dataDir: config.embedded.dataDir,
      port: config.embedded.port,
      log,
    });
    primary = { connectionString: embedded.connectionString, endpoint: embedded.endpoint };
    log.info({ dataDir: embedded.dataRoot, port: embedded.endpoint.port }, 'embedded PostgreSQL 16 started');
  }

  const poolpilot = new Poolpilot({ config, primary, embedded: embedded !== null, log });
  const app = createApp(poolpilot, log);
  const stopSlowLog = logSlowStatements(poolpilot, log, config.logSlowStatementMs);
  const stopOptimizationLog = logOptimizations(poolpilot, log);
  let stopping = false;
  let stoppingSince = 0;
  const stop = async (signal: string) => {
    // `npm start` forwards the terminal's Ctrl-C that the service received itself: a repeat
    // within a second is that same request, not an impatient second one.
    if (stopping && performance.now() - stoppingSince < 1_000) return;
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      await embedded?.server.kill();
      process.exit(1);
    }
    stopping = true;
    stoppingSince = performance.now();
    stopSlowLog();
    stopOptimizationLog();
    // Past the grace period, closing pools and PostgreSQL get a bounded extra while.
    const deadline = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      void (embedded?.server.kill() ?? Promise.resolve()).finally(() => process.exit(1));
    }, config.shutdownGraceMs + 30_000);
    deadline.unref();
    try {
      await shutdown({ app, poolpilot, embedded, log, graceMs: config.shutdownGraceMs, signal });
      process.exit(0);
    } catch (error) {
      log.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.removeListener('SIGINT', early);
  process.removeListener('SIGTERM', early);
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  if (earlySignal) return stop(earlySignal);

  try {
    await poolpilot.start();
    const address = await app.listen(config.port, config.host);
    const state = poolpilot.poolState();
    log.info(
      {
        url: app.url(),
        startupMs: Math.round(performance.now() - started),
        embedded: embedded !== null,
        auth: config.tokens.length > 0 ? 'on' : 'off (loopback only)',
        pool: { min: config.pool.min, max: config.pool.max },
        slowStatementMs: config.logSlowStatementMs,
        shutdownGraceMs: config.shutdownGraceMs,
        targets: state.targets.map((t) => ({ name: t.name, ...t.endpoint, status: t.health.status })),
        status: state.status,
      },
      `poolpilot listening on http://${config.host}:${address.port}/graphql`,
    );
  } catch (error) {
    log.error({ err: error }, 'start-up failed');
    await poolpilot.close(0).catch(() => undefined);
    await embedded?.stop();
    process.exit(1);
  }
}

main().catch((error) => {
  process.stderr.write(`poolpilot: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
