export {
  type Consistency,
  type ConsistencyReason,
  formatLsn,
  hintedAfterLsn,
  laterLsn,
  parseAfterLsn,
} from './causal.js';
export {
  type PendingWrite,
  ReadYourWrites,
  type ReadYourWritesMode,
  type ReadYourWritesOptions,
} from './read-your-writes.js';
export { ReplayWatch, type ReplayWatchOptions } from './replay-watch.js';
export { type RouteCount, RouteCounts } from './route-counts.js';
export { type Route, type RouteNeed, Router, type RouterOptions } from './router.js';
export { WalPosition } from './wal-position.js';
