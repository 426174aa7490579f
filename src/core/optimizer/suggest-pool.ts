import { type PoolSizeAdvice, poolSizeFor, type ServerSize } from '../insights/index.js';
import type { PoolState } from '../pool/index.js';
import { type Optimization, OptimizationKind, optimizationId, round } from './types.js';

// Callers waiting this long for a connection (p95 over the recent window) means the pool is short.
const WAIT_P95_MS = 5;
// The guide's 4-core row is used when the CPU count is unknown.
const ASSUMED_CPUS = 4;

/**
 * POOL_RESIZE: grow the pool to the guide's maximum for the server's CPUs when callers queue for
 * connections. Never past that figure: beyond it more connections add contention, not throughput.
 */
export function poolResize(
  pool: PoolState,
  server: ServerSize,
  headroom: { maxConnections: number; otherConnections: number },
): Optimization | null {
  const advice: PoolSizeAdvice = poolSizeFor(server.cpus ?? ASSUMED_CPUS);
  const pressure =
    pool.waiting > 0 ||
    pool.acquireTimeouts > 0 ||
    (pool.acquireWait.count > 0 && pool.acquireWait.p95Ms >= WAIT_P95_MS);
  // Connections the server can still give this pool, keeping a few for admin sessions.
  const room = headroom.maxConnections - headroom.otherConnections - 5;
  const target = Math.min(advice.max, Math.max(pool.max, room));
  if (!pressure || target <= pool.max) return null;
  const cpus =
    server.cpus === null ? `${ASSUMED_CPUS} CPUs (assumed; set DB_SERVER_CPUS)` : `${server.cpus} CPUs`;
  return {
    id: optimizationId(OptimizationKind.PoolResize, 'pool'),
    kind: OptimizationKind.PoolResize,
    title: `Grow the pool from ${pool.max} to ${target} connections`,
    rationale:
      `Callers are queueing for connections: ${pool.waiting} waiting now, ${pool.acquireTimeouts} gave up waiting since start-up, ` +
      `acquire wait p95 ${round(pool.acquireWait.p95Ms)} ms (max ${round(pool.acquireWait.maxMs)} ms over ${pool.acquireWait.count} recent acquires), ` +
      `utilization ${round(pool.utilization)}% of max ${pool.max}. The guide's table gives max ${advice.max} for ${cpus} ` +
      `(${advice.row}); the server allows ${headroom.maxConnections} connections with ${headroom.otherConnections} used by others.`,
    risk: 'LOW',
    statements: [],
    actionSummary: `Resize every pool live to min ${Math.min(pool.min, target)}, max ${target}: nothing in flight is interrupted. Not persisted: set DB_POOL_SIZE=${target} to keep it after a restart.`,
    applicable: true,
    requiresRestart: false,
    evidence: {
      waiting: pool.waiting,
      acquireTimeouts: pool.acquireTimeouts,
      acquireWaitP95Ms: pool.acquireWait.p95Ms,
      acquireWaitMaxMs: pool.acquireWait.maxMs,
      acquires: pool.acquireWait.count,
      utilization: pool.utilization,
      currentMax: pool.max,
      recommendedMax: target,
      cpus: server.cpus,
      maxConnections: headroom.maxConnections,
    },
    action: { type: 'pool-resize', min: Math.min(pool.min, target), max: target },
  };
}

export function pgbouncerOptimization(content: string, poolSize: PoolSizeAdvice | null): Optimization {
  return {
    id: optimizationId(OptimizationKind.PgbouncerConfig, 'pgbouncer.ini'),
    kind: OptimizationKind.PgbouncerConfig,
    title: 'pgbouncer.ini for this setup',
    rationale:
      'A generated pgbouncer.ini with transaction pooling, sized like this pool' +
      (poolSize ? ` (${poolSize.default} server connections per database, ${poolSize.row})` : '') +
      ', for applications that cannot go through poolpilot. Nothing is applied: the file is in `artifact` (`poolpilot optimize --show ID --output pgbouncer.ini` saves it).',
    risk: 'LOW',
    statements: [],
    actionSummary: 'Returns pgbouncer.ini as text; changes nothing.',
    applicable: false,
    requiresRestart: false,
    evidence: { bytes: content.length },
    action: { type: 'artifact', filename: 'pgbouncer.ini', content },
  };
}
