import { readFileSync } from 'node:fs';
import type { Config, DatabaseConnection } from '../config/index.js';
import type { Logger } from './logger.js';
import { Cluster, type ClusterState, type TargetSpec } from './pool/index.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export const SERVICE_NAME = 'poolpilot';
export const VERSION: string = pkg.version;

export interface PoolpilotOptions {
  config: Readonly<Config>;
  /** The primary to pool against: the configured one, or the embedded one started for it. */
  primary: DatabaseConnection;
  embedded: boolean;
  log: Logger;
}

export interface ServiceInfo {
  name: string;
  version: string;
  startedAt: Date;
  uptimeSeconds: number;
  postgresVersion: string | null;
  embedded: boolean;
}

/**
 * The product without a transport: the cluster of pools and everything built on it. GraphQL,
 * the CLI and a future wire-protocol listener all hold one of these.
 */
export class Poolpilot {
  readonly config: Readonly<Config>;
  readonly cluster: Cluster;
  readonly log: Logger;
  readonly embedded: boolean;
  readonly startedAt = new Date();

  constructor(options: PoolpilotOptions) {
    this.config = options.config;
    this.log = options.log;
    this.embedded = options.embedded;
    const { pool } = options.config;
    const spec = (name: string, role: TargetSpec['role'], db: DatabaseConnection): TargetSpec => ({
      name,
      role,
      connection: { connectionString: db.connectionString },
      endpoint: db.endpoint,
    });
    this.cluster = new Cluster(
      spec('primary', 'primary', options.primary),
      options.config.replicas.map((r, i) => spec(`replica-${i + 1}`, 'replica', r)),
      {
        pool: { ...pool, applicationName: SERVICE_NAME },
        health: {
          intervalMs: options.config.healthCheckIntervalMs,
          initialBackoffMs: Math.min(250, options.config.healthCheckIntervalMs),
          maxBackoffMs: 30_000,
          connectionTimeoutMs: pool.connectionTimeoutMs,
        },
      },
      options.log,
    );
  }

  async start(): Promise<void> {
    await this.cluster.start();
  }

  info(): ServiceInfo {
    return {
      name: SERVICE_NAME,
      version: VERSION,
      startedAt: this.startedAt,
      uptimeSeconds: (Date.now() - this.startedAt.getTime()) / 1000,
      postgresVersion: this.cluster.primary.serverVersion,
      embedded: this.embedded,
    };
  }

  poolState(): ClusterState {
    return this.cluster.state();
  }

  async close(graceMs?: number): Promise<void> {
    await this.cluster.close(graceMs);
  }
}
