import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { type Config, ConfigError, coreSettings, databaseTargets, loadConfig } from './config/index.js';
import { Poolpilot } from './core/index.js';
import type { Logger } from './core/logger.js';
import { ClusterSamples } from './core/telemetry/index.js';
import { type EmbeddedDatabase, startEmbeddedDatabase } from './embedded/index.js';
import { httpSurface } from './server/http-surface.js';
import { createLogger, logOptimizations, logSlowStatements } from './server/logger.js';
import type { Surface } from './surface.js';
import { WireSurface } from './wire/wire-surface.js';

/**
 * The composition root (`npm start`, `poolpilot start`): configuration, then the database
 * (embedded when none is configured), the core, and the surfaces that let callers in.
 * SIGINT/SIGTERM drain every surface, close the core and the embedded PostgreSQL, and exit 0; a
 * second signal exits at once with 1.
 */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config: Readonly<Config>;
  try {
    config = loadConfig(env);
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
  const targets = databaseTargets(config);
  let primary = targets.primary;
  if (!primary) {
    embedded = await startEmbeddedDatabase({
      dataDir: config.embedded.dataDir,
      port: config.embedded.port,
      log,
    });
    primary = embedded.connections;
    log.info(
      {
        dataDir: embedded.dataRoot,
        port: embedded.connections.data.endpoint.port,
        database: embedded.connections.data.endpoint.database,
        dataRole: embedded.connections.data.endpoint.user,
        adminRole: embedded.connections.admin.endpoint.user,
      },
      'embedded PostgreSQL 16 started',
    );
  }
  const poolpilot = new Poolpilot({
    ...coreSettings(config),
    primary,
    replicas: targets.replicas,
    embedded: embedded !== null,
    log,
  });
  // With REDIS_URL, telemetry is sampled once for the cluster and fanned out through pub/sub.
  let shared: { samples: ClusterSamples; redis: Redis } | null = null;
  if (config.redisUrl) {
    // Commands fail fast while Redis is away (no offline queue): streams then sample alone.
    const redis = new Redis(config.redisUrl, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 2_000,
    });
    redis.on('error', (error: Error) => log.debug({ err: error }, 'Redis connection error'));
    const samples = new ClusterSamples({
      redis,
      instance: config.instanceName,
      log: log.child({ component: 'cluster-telemetry' }),
    });
    poolpilot.telemetry.share(samples);
    shared = { samples, redis };
  }
  // Every way in: GraphQL/HTTP, and the PostgreSQL wire front unless WIRE_PORT=0.
  const surfaces: Surface[] = [httpSurface(poolpilot, config, log)];
  if (config.wire.port > 0) surfaces.push(new WireSurface(poolpilot, config.wire, log));
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
      await shutdown({ surfaces, poolpilot, embedded, log, graceMs: config.shutdownGraceMs, signal, shared });
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
    const urls: Record<string, string> = {};
    for (const surface of surfaces) urls[surface.name] = await surface.listen();
    const state = poolpilot.poolState();
    log.info(
      {
        url: urls.http,
        listen: urls,
        startupMs: Math.round(performance.now() - started),
        embedded: embedded !== null,
        auth: config.tokens.length > 0 ? 'on' : 'off (loopback only)',
        pool: { min: config.pool.min, max: config.pool.max },
        ...(poolpilot.fleet
          ? {
              fleet: {
                instance: poolpilot.fleet.name,
                redis: poolpilot.fleet.link.up ? 'reachable' : 'unreachable',
                budgetPerTarget: config.pool.max,
              },
            }
          : {}),
        adminPool: { max: config.adminPool.max },
        instance: config.instanceName,
        clusterTelemetry: shared !== null,
        dataRole: primary.data.endpoint.user,
        adminRole: primary.admin.endpoint.user,
        slowStatementMs: config.logSlowStatementMs,
        shutdownGraceMs: config.shutdownGraceMs,
        targets: state.targets.map((t) => ({ name: t.name, ...t.endpoint, status: t.health.status })),
        status: state.status,
      },
      `poolpilot listening on ${Object.values(urls).join(', ')}`,
    );
  } catch (error) {
    log.error({ err: error }, 'start-up failed');
    await Promise.all(surfaces.map((s) => s.close().catch(() => undefined)));
    await poolpilot.close(0).catch(() => undefined);
    await closeShared(shared);
    await embedded?.stop();
    process.exit(1);
  }
}

interface ShutdownOptions {
  surfaces: Surface[];
  poolpilot: Poolpilot;
  embedded: EmbeddedDatabase | null;
  log: Logger;
  graceMs: number;
  signal: string;
  /** The cluster's Redis link, closed after the pools (its leases released for the others). */
  shared?: { samples: ClusterSamples; redis: Redis } | null;
}

async function closeShared(shared: ShutdownOptions['shared']): Promise<void> {
  if (!shared) return;
  await shared.samples.close().catch(() => undefined);
  await shared.redis.quit().catch(() => undefined);
}

/**
 * Every surface stops accepting and drains (bounded by `graceMs`), then closes; then the pools,
 * then the embedded PostgreSQL. Returns true when nothing was cut off.
 */
export async function shutdown({
  surfaces,
  poolpilot,
  embedded,
  log,
  graceMs,
  signal,
  shared = null,
}: ShutdownOptions): Promise<boolean> {
  const started = performance.now();
  log.info(
    { signal, graceMs, surfaces: surfaces.map((s) => s.name) },
    'shutting down: no new connections, waiting for in-flight work',
  );
  const drained = (await Promise.all(surfaces.map((s) => s.drain(graceMs)))).every(Boolean);
  try {
    await Promise.all(surfaces.map((s) => s.close()));
    // Anything still leased now is background work (health checks, samplers): a short grace.
    await poolpilot.close(drained ? Math.min(5_000, graceMs) : 0);
    await closeShared(shared);
  } finally {
    if (embedded) {
      await embedded.stop();
      log.info('embedded PostgreSQL stopped');
    }
  }
  log.info({ drained, shutdownMs: Math.round(performance.now() - started) }, 'stopped');
  return drained;
}

// Run when started as a program (`tsx src/main.ts`, `node dist/main.js`), not when imported.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    process.stderr.write(`poolpilot: ${(error as Error).stack ?? error}\n`);
    process.exit(1);
  });
}
