export { Histogram, type LatencySummary, WindowedHistogram } from '../histogram.js';
export type { FieldDescription } from './backend-messages.js';
export {
  Cluster,
  type ClusterOptions,
  type ClusterState,
  type PoolTotals,
  type ServiceStatus,
} from './cluster.js';
export { type HealthChange, HealthMonitor, type HealthOptions } from './health-monitor.js';
export { cancelled, type ForwardChannel, Lease, type RunOptions } from './lease.js';
export { lsnDiff, parseLsn } from './lsn.js';
export {
  Pool,
  type PoolObserver,
  type PoolOptions,
  type PoolState,
  type QueryOptions,
  type QueryResult,
  type StatementRecord,
} from './pool.js';
export type {
  CloseReply,
  Forwarder,
  RowSink,
  StreamOptions,
  StreamResult,
  TransactionStatus,
} from './server-connection.js';
export { StatementCache } from './statement-cache.js';
export {
  type ReplicationState,
  Target,
  type TargetEndpoint,
  type TargetHealth,
  type TargetRole,
  type TargetSpec,
  type TargetState,
  type TargetStatus,
} from './target.js';
