import type { ClientSummary } from '../clients/index.js';
import type { ClusterState, PoolState, PoolTotals, ServiceStatus, TargetRole } from '../pool/index.js';

/** The complex-query queue's figures a pool sample carries. */
export interface QueueFigures {
  depth: number;
  running: number;
  concurrency: number;
}

export interface PoolFiguresSample {
  total: number;
  idle: number;
  active: number;
  waiting: number;
  max: number;
  /** active / max, 0..100. */
  utilization: number;
  acquireWaitP95Ms: number;
  /** Statements per second since the previous sample of this stream. */
  queriesPerSecond: number;
  /** Statements finished since the previous sample. */
  queries: number;
  /** Statements that failed since the previous sample. */
  errors: number;
}

export interface PoolTargetSample extends PoolFiguresSample {
  name: string;
  role: TargetRole;
  up: boolean;
}

export interface PoolSample {
  at: Date;
  /** Counts up per sampler: subscribers of one stream see the same sequence. */
  seq: number;
  intervalMs: number;
  /** Time covered by the rates (since the previous sample); 0 for the first. */
  elapsedMs: number;
  status: ServiceStatus;
  total: PoolFiguresSample;
  targets: PoolTargetSample[];
  /** null when the service has no complex-query queue. */
  queue: QueueFigures | null;
  /** Wire-front clients by state; null when the service counts none. */
  clients: ClientSummary | null;
}

type Figures = PoolState | PoolTotals;

function figures(now: Figures, before: Figures | undefined, elapsedMs: number): PoolFiguresSample {
  // Counters only grow, except after a restart of the service; never report a negative rate.
  const queries = before ? Math.max(0, now.queries - before.queries) : 0;
  const errors = before ? Math.max(0, now.errors - before.errors) : 0;
  return {
    total: now.total,
    idle: now.idle,
    active: now.active,
    waiting: now.waiting,
    max: now.max,
    utilization: now.utilization,
    acquireWaitP95Ms: now.acquireWait.p95Ms,
    queriesPerSecond: elapsedMs > 0 ? (queries * 1000) / elapsedMs : 0,
    queries,
    errors,
  };
}

interface Previous {
  atMs: number;
  totals: PoolTotals;
  targets: Map<string, PoolState>;
}

/**
 * Builds pool samples from the cluster's own counters (no query to the database). Each call to
 * this factory keeps its own previous reading, so rates are per sampler.
 */
export function poolSampleTaker(
  intervalMs: number,
  clusterState: () => ClusterState,
  queueState: () => QueueFigures | null,
  clientState: () => ClientSummary | null = () => null,
): () => Promise<PoolSample> {
  let previous: Previous | null = null;
  let seq = 0;
  return async () => {
    const state = clusterState();
    const atMs = Date.now();
    const elapsedMs = previous ? atMs - previous.atMs : 0;
    const sample: PoolSample = {
      at: new Date(atMs),
      seq: ++seq,
      intervalMs,
      elapsedMs,
      status: state.status,
      total: figures(state.totals, previous?.totals, elapsedMs),
      targets: state.targets.map((t) => ({
        name: t.name,
        role: t.role,
        up: t.health.status === 'up',
        ...figures(t.pool, previous?.targets.get(t.name), elapsedMs),
      })),
      queue: queueState(),
      clients: clientState(),
    };
    previous = {
      atMs,
      totals: state.totals,
      targets: new Map(state.targets.map((t) => [t.name, t.pool])),
    };
    return sample;
  };
}
