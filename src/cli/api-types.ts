/**
 * The shapes the CLI reads from the GraphQL API: the fields it selects, typed as the SDL
 * (schema/schema.graphql) declares them. Enums arrive as their wire names (`PRIMARY`, `OK`).
 */

export interface LatencyView {
  count?: number;
  meanMs?: number;
  maxMs?: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

export interface ReplicationView {
  lagBytes: number | null;
  lagMs: number | null;
}

export interface TargetPoolView {
  name: string;
  role: string;
  status: string;
  up: boolean;
  total: number;
  idle: number;
  active: number;
  waiting: number;
  connecting: number;
  min: number;
  max: number;
  utilization: number;
  maxWaitMs: number;
  queries: number;
  errors: number;
  timeouts: number;
  acquireTimeouts: number;
  acquireWait: LatencyView;
  queryLatency: LatencyView;
  replication: ReplicationView | null;
}

export interface PoolStatsView {
  total: number;
  idle: number;
  active: number;
  waiting: number;
  max: number;
  min: number;
  utilization: number;
  queries: number;
  errors: number;
  timeouts: number;
  acquireWait: LatencyView;
  queryLatency: LatencyView;
  targets: TargetPoolView[];
}

export interface InfoView {
  name: string;
  version: string;
  postgresVersion: string | null;
  embedded: boolean;
  authEnabled: boolean;
  uptimeSeconds: number;
}

export interface HealthView {
  status: string;
  targets: { name: string; role: string; status: string; reachable: boolean; reason: string | null }[];
}

export interface CpuView {
  at: string;
  source: string;
  detail: string | null;
  percentOfOneCore: number | null;
  percentOfAllCores: number | null;
  cores: number | null;
  memoryBytes: number | null;
  hostCores: number;
  loadAverage: number[];
  skipped?: string[];
}

export interface ConnectionStatesView {
  at: string;
  target: string;
  total: number;
  active: number;
  idle: number;
  idleInTransaction: number;
  idleInTransactionAborted: number;
  waitingOnLocks: number;
  oldestTransactionAgeMs: number | null;
  oldestIdleInTransactionAgeMs?: number | null;
  error: string | null;
}

export interface SlowQueryView {
  query: string;
  calls: number;
  meanMs: number;
  totalMs: number;
}

/** Every leaf field the server declares is selected; these are the ones the CLI renders. */
export interface OptimizationView {
  id: string;
  kind: string;
  title: string;
  rationale: string;
  risk: string;
  applicable?: boolean;
  requiresRestart?: boolean;
  [field: string]: unknown;
}

export interface ApplyResultView {
  id: string;
  outcome?: string;
  title?: string;
  ok?: boolean;
  [field: string]: unknown;
}

export interface PoolSampleFiguresView {
  total: number;
  active: number;
  idle: number;
  waiting: number;
  max: number;
  utilization: number;
  queriesPerSecond: number;
  errors: number;
  acquireWaitP95Ms: number;
}

export interface PoolSampleView {
  at: string;
  status: string;
  total: PoolSampleFiguresView;
  targets: (PoolSampleFiguresView & { name: string; role: string; up: boolean })[];
  queue: { depth: number; running: number; concurrency: number } | null;
}

export interface ExecuteView {
  rowCount: number;
  durationMs: number;
  route: string;
  target: string;
  queued: boolean;
  queueWaitMs: number;
}

export interface TableView {
  schema: string;
  name: string;
  liveRows: number;
  deadRows: number;
  totalBytes: number;
  seqScans: number;
  indexScans: number;
  lastAnalyze: string | null;
  lastVacuum: string | null;
  partitioned: boolean;
}

export interface SettingsView {
  server: { memoryMb: number | null; cpus: number | null; source: string };
  poolSize: { min: number; max: number; default: number; cpus: number; row?: string } | null;
  settings: {
    name: string;
    current: string;
    recommended: string | null;
    needsChange: boolean;
    requiresRestart: boolean;
    reason: string;
  }[];
}
