export { ReadYourWrites } from './read-your-writes.js';
export { type RouteCount, RouteCounts } from './route-counts.js';
export { type Route, Router, type RouterOptions } from './router.js';
export { WalPosition } from './wal-position.js';
