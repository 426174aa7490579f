import type { Client } from 'graphql-ws';
import type {
  ConnectionStatesView,
  CpuView,
  HealthView,
  InfoView,
  OptimizationView,
  PoolStatsView,
  SettingsView,
  SlowQueryView,
  TableView,
} from './api-types.js';
import { type Connection, firstEvent, type RootFields, request, subscriptionClient } from './client.js';

/**
 * The service's current state, gathered from whatever the server offers: the pool and health
 * always; CPU and connection states from one sample of their subscriptions; slow queries and
 * suggestions when the server has those fields. What could not be had is listed, never guessed.
 */

const TARGET_POOL = `name role status up total idle active waiting connecting min max utilization maxWaitMs
  queries errors timeouts acquireTimeouts
  acquireWait { p50Ms p95Ms p99Ms } queryLatency { count meanMs p50Ms p95Ms p99Ms maxMs }
  replication { lagBytes lagMs }`;

export const POOL_QUERY = `{
  info { name version postgresVersion embedded authEnabled uptimeSeconds }
  health { status targets { name role status reachable reason } }
  poolStats {
    total idle active waiting max min utilization queries errors timeouts
    acquireWait { p50Ms p95Ms p99Ms } queryLatency { count p50Ms p95Ms p99Ms }
    targets { ${TARGET_POOL} }
  }
}`;

export const CPU_SUBSCRIPTION = `subscription { containerCpu { at source detail percentOfOneCore percentOfAllCores cores
  memoryBytes hostCores loadAverage skipped } }`;
export const CONNECTIONS_SUBSCRIPTION = `subscription { connectionStates { at target total active idle
  idleInTransaction idleInTransactionAborted waitingOnLocks oldestTransactionAgeMs
  oldestIdleInTransactionAgeMs error } }`;
export const SLOW_QUERIES = `query($limit: Int) { slowQueries(limit: $limit) { query calls meanMs totalMs } }`;
export const OPTIMIZATIONS = `{ optimizations { id kind title rationale risk applicable requiresRestart } }`;
export const TABLES = `query($limit: Int) { tables(limit: $limit) { schema name liveRows deadRows totalBytes seqScans
  indexScans lastAnalyze lastVacuum partitioned } }`;
export const SETTINGS = `{ settings { server { memoryMb cpus source } poolSize { min max default cpus row }
  settings { name current recommended needsChange requiresRestart reason } } }`;

export interface Snapshot {
  info: InfoView;
  health: HealthView;
  poolStats: PoolStatsView;
  cpu: CpuView | null;
  connectionStates: ConnectionStatesView | null;
  slowQueries: SlowQueryView[] | null;
  optimizations: OptimizationView[] | null;
  tables: TableView[] | null;
  settings: SettingsView | null;
  /** Sections the server does not offer (root fields missing) or that failed, with why. */
  unavailable: { section: string; reason: string }[];
}

export async function takeSnapshot(
  conn: Connection,
  fields: RootFields,
  { slowLimit = 5, forReport = false } = {},
): Promise<Snapshot> {
  const unavailable: Snapshot['unavailable'] = [];
  const base = await request<Pick<Snapshot, 'info' | 'health' | 'poolStats'>>(conn, POOL_QUERY);
  const optional = async <T>(section: string, present: boolean, missing: string, get: () => Promise<T>) => {
    if (!present) {
      unavailable.push({ section, reason: `the server does not offer ${missing}` });
      return null;
    }
    try {
      return await get();
    } catch (error) {
      unavailable.push({ section, reason: (error as Error).message });
      return null;
    }
  };

  let ws: Client | null = null;
  const socket = () => {
    ws ??= subscriptionClient(conn);
    return ws;
  };
  try {
    const [cpu, connectionStates, slowQueries, optimizations, tables, settings] = await Promise.all([
      optional(
        'cpu',
        fields.subscription.has('containerCpu'),
        'subscription containerCpu',
        async () => (await firstEvent<{ containerCpu: CpuView }>(socket(), CPU_SUBSCRIPTION)).containerCpu,
      ),
      optional(
        'connectionStates',
        fields.subscription.has('connectionStates'),
        'subscription connectionStates',
        async () =>
          (await firstEvent<{ connectionStates: ConnectionStatesView }>(socket(), CONNECTIONS_SUBSCRIPTION))
            .connectionStates,
      ),
      optional(
        'slowQueries',
        fields.query.has('slowQueries'),
        'query slowQueries',
        async () =>
          (await request<{ slowQueries: SlowQueryView[] }>(conn, SLOW_QUERIES, { limit: slowLimit }))
            .slowQueries,
      ),
      forReport
        ? optional(
            'optimizations',
            fields.query.has('optimizations'),
            'query optimizations',
            async () =>
              (await request<{ optimizations: OptimizationView[] }>(conn, OPTIMIZATIONS)).optimizations,
          )
        : Promise.resolve(null),
      forReport
        ? optional(
            'tables',
            fields.query.has('tables'),
            'query tables',
            async () => (await request<{ tables: TableView[] }>(conn, TABLES, { limit: 10 })).tables,
          )
        : Promise.resolve(null),
      forReport
        ? optional(
            'settings',
            fields.query.has('settings'),
            'query settings',
            async () => (await request<{ settings: SettingsView }>(conn, SETTINGS)).settings,
          )
        : Promise.resolve(null),
    ]);
    return { ...base, cpu, connectionStates, slowQueries, optimizations, tables, settings, unavailable };
  } finally {
    await (ws as Client | null)?.dispose();
  }
}
