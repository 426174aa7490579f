import type { Cluster } from '../pool/index.js';
import { type ConnectionStates, type ConnectionStatesOptions, connectionStates } from './connections.js';
import type { QueryObservations } from './observations.js';
import type { ServerSize } from './pgtune.js';
import { serverSize } from './server-size.js';
import { type SettingsReport, settingsAdvice } from './settings.js';
import { SlowQueries, type SlowQueryThresholds } from './slow-queries.js';
import { largestTables, type TableInsight, type TableThresholds } from './tables.js';

export type {
  BlockingPair,
  ConnectionStates,
  ConnectionStatesOptions,
  SessionInfo,
} from './connections.js';
export { type ObservedShape, QueryObservations } from './observations.js';
export { formatKb, type PoolSizeAdvice, pgtune, poolSizeFor, type ServerSize, type Tuned } from './pgtune.js';
export { ADVISED_SETTINGS, type SettingAdvice, type SettingsReport } from './settings.js';
export {
  enableSuggestion,
  type SlowQuery,
  type SlowQueryOptions,
  type SlowQueryOrder,
  type SlowQueryReport,
  type SlowQuerySource,
  type StatementsExtension,
} from './slow-queries.js';
export { quoteIdent } from './sql.js';
export { formatBytes, type PartitionAdvice, type TableInsight } from './tables.js';
export { SlowQueries };

export interface InsightsOptions extends SlowQueryThresholds, TableThresholds {
  serverMemoryMb: number | null;
  serverCpus: number | null;
  idleInTransactionLimitMs: number;
}

/** What makes PostgreSQL slow, read from the statistics views of the target acting as primary. */
export class Insights {
  readonly slowQueries: SlowQueries;
  readonly options: Readonly<InsightsOptions>;
  readonly #cluster: Cluster;

  constructor(cluster: Cluster, observations: QueryObservations, options: InsightsOptions) {
    this.#cluster = cluster;
    this.options = options;
    const { endpoint, adminEndpoint } = cluster.primary.spec;
    this.slowQueries = new SlowQueries(() => cluster.actingPrimary().admin, observations, options, {
      separateAdminRole: adminEndpoint.user !== endpoint.user,
    });
  }

  /** Statistics are read through the control-plane pool: they never wait behind, or count as, callers' load. */
  get #pool() {
    return this.#cluster.actingPrimary().admin;
  }

  server(): ServerSize {
    return serverSize(
      { memoryMb: this.options.serverMemoryMb, cpus: this.options.serverCpus },
      this.#cluster.actingPrimary().spec.endpoint.host,
    );
  }

  connectionStates(options?: ConnectionStatesOptions): Promise<ConnectionStates> {
    return connectionStates(this.#pool, options);
  }

  tables(limit = 20): Promise<TableInsight[]> {
    return largestTables(this.#pool, limit, this.options);
  }

  settings(): Promise<SettingsReport> {
    // Advice is about the data pool's size and timeouts.
    const pool = this.#cluster.actingPrimary().pool.options;
    return settingsAdvice(this.#pool, {
      server: this.server(),
      poolMax: pool.max,
      poolIdleTimeoutMs: pool.idleTimeoutMs,
      statementTimeoutMs: pool.statementTimeoutMs,
      idleInTransactionLimitMs: this.options.idleInTransactionLimitMs,
    });
  }
}
