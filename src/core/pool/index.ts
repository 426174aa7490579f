export { cancelBackend } from './cancel.js';
export {
  Cluster,
  type ClusterOptions,
  type ClusterState,
  type PoolTotals,
  type ServiceStatus,
} from './cluster.js';
export { type HealthChange, HealthMonitor, type HealthOptions } from './health-monitor.js';
export { Histogram, type LatencySummary, WindowedHistogram } from './histogram.js';
export { lsnDiff, parseLsn } from './lsn.js';
export {
  Lease,
  Pool,
  type PoolObserver,
  type PoolOptions,
  type PoolState,
  type QueryOptions,
  type QueryResult,
} from './pool.js';
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
