import { type Config, ConfigError, type DatabaseConnection, loadConfig } from '../config/index.js';
import { Poolpilot } from '../core/index.js';
import { type EmbeddedDatabase, startEmbeddedDatabase } from '../embedded/index.js';
import { createApp } from './app.js';
import { createLogger } from './logger.js';

/**
 * `npm start`: configuration, then the database (embedded when none is configured), the pools,
 * and the HTTP + WebSocket server. SIGINT/SIGTERM stop it in reverse order; a second signal
 * exits at once.
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
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      await embedded?.server.kill();
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, 30_000);
    timer.unref();
    try {
      await app.close();
      await poolpilot.close(config.pool.statementTimeoutMs);
    } finally {
      await embedded?.stop();
    }
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

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
