import type { ClientSummary } from '../clients/index.js';
import type { ClusterState, PoolState, ServiceStatus, TargetRole } from '../pool/index.js';

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

/** One instance's part of a sample. */
export interface PoolInstanceSample {
  name: string;
  status: ServiceStatus;
  total: PoolFiguresSample;
  targets: PoolTargetSample[];
  queue: QueueFigures | null;
  clients: ClientSummary | null;
}

export interface PoolSample {
  at: Date;
  /** Counts up per sampler: subscribers of one stream see the same sequence. */
  seq: number;
  intervalMs: number;
  /** Time covered by the rates (since the previous sample); 0 for the first. */
  elapsedMs: number;
  /** The worst of the instances' statuses. */
  status: ServiceStatus;
  /** Summed over every target of every instance sampled. */
  total: PoolFiguresSample;
  /** Per target name, summed over the instances sampled. */
  targets: PoolTargetSample[];
  /** null when the service has no complex-query queue. */
  queue: QueueFigures | null;
  /** Wire-front clients by state; null when the service counts none. */
  clients: ClientSummary | null;
  /** Each instance's own figures: this one alone, or every live one of the cluster. */
  instances: PoolInstanceSample[];
}

/** Pool counters as an instance reports them: absolute counts and totals since its start. */
export interface PoolCounts {
  total: number;
  idle: number;
  active: number;
  waiting: number;
  max: number;
  utilization: number;
  acquireWaitP95Ms: number;
  queries: number;
  errors: number;
}

/** What one instance reports of its pools: the raw material of a sample, for itself or the cluster. */
export interface InstancePools {
  instance: string;
  status: ServiceStatus;
  totals: PoolCounts;
  targets: (PoolCounts & { name: string; role: TargetRole; up: boolean })[];
  queue: QueueFigures | null;
  clients: ClientSummary | null;
}

const counts = (pool: PoolState): PoolCounts => ({
  total: pool.total,
  idle: pool.idle,
  active: pool.active,
  waiting: pool.waiting,
  max: pool.max,
  utilization: pool.utilization,
  acquireWaitP95Ms: pool.acquireWait.p95Ms,
  queries: pool.queries,
  errors: pool.errors,
});

export function instancePools(
  instance: string,
  state: ClusterState,
  queue: QueueFigures | null,
  clients: ClientSummary | null,
): InstancePools {
  return {
    instance,
    status: state.status,
    totals: counts(state.totals),
    targets: state.targets.map((t) => ({
      name: t.name,
      role: t.role,
      up: t.health.status === 'up',
      ...counts(t.pool),
    })),
    queue,
    clients,
  };
}

function figures(now: PoolCounts, before: PoolCounts | undefined, elapsedMs: number): PoolFiguresSample {
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
    acquireWaitP95Ms: now.acquireWaitP95Ms,
    queriesPerSecond: elapsedMs > 0 ? (queries * 1000) / elapsedMs : 0,
    queries,
    errors,
  };
}

/** Figures summed over instances; a p95 cannot be summed, so the worst instance's stands for all. */
function summed(parts: PoolFiguresSample[]): PoolFiguresSample {
  if (parts.length === 1) return parts[0]!;
  const sum = (pick: (f: PoolFiguresSample) => number) => parts.reduce((n, f) => n + pick(f), 0);
  const active = sum((f) => f.active);
  const max = sum((f) => f.max);
  return {
    total: sum((f) => f.total),
    idle: sum((f) => f.idle),
    active,
    waiting: sum((f) => f.waiting),
    max,
    utilization: max > 0 ? Math.min(100, (active / max) * 100) : 0,
    acquireWaitP95Ms: Math.max(0, ...parts.map((f) => f.acquireWaitP95Ms)),
    queriesPerSecond: sum((f) => f.queriesPerSecond),
    queries: sum((f) => f.queries),
    errors: sum((f) => f.errors),
  };
}

function summedOrNull<T extends object>(parts: (T | null)[], combine: (a: T, b: T) => T): T | null {
  const present = parts.filter((p): p is T => p !== null);
  return present.length === 0 ? null : present.reduce(combine);
}

const STATUS_RANK: Record<ServiceStatus, number> = { ok: 0, degraded: 1, down: 2 };

interface Previous {
  atMs: number;
  byInstance: Map<string, { totals: PoolCounts; targets: Map<string, PoolCounts> }>;
}

/**
 * Builds pool samples from the instances' counters (no query to the database): this instance's
 * alone, or every live instance's when the cluster shares samples. Each call to this factory keeps
 * its own previous reading, so rates are per sampler.
 */
export function poolSampleTaker(
  intervalMs: number,
  readPools: () => InstancePools[] | Promise<InstancePools[]>,
): () => Promise<PoolSample> {
  let previous: Previous | null = null;
  let seq = 0;
  return async () => {
    const pools = await readPools();
    const atMs = Date.now();
    const elapsedMs = previous ? atMs - previous.atMs : 0;
    const instances: PoolInstanceSample[] = pools.map((p) => {
      const before = previous?.byInstance.get(p.instance);
      return {
        name: p.instance,
        status: p.status,
        total: figures(p.totals, before?.totals, elapsedMs),
        targets: p.targets.map((t) => ({
          name: t.name,
          role: t.role,
          up: t.up,
          ...figures(t, before?.targets.get(t.name), elapsedMs),
        })),
        queue: p.queue,
        clients: p.clients,
      };
    });
    const names = [...new Set(instances.flatMap((i) => i.targets.map((t) => t.name)))];
    const targets = names.map((name) => {
      const parts = instances.flatMap((i) => i.targets.filter((t) => t.name === name));
      const { role } = parts[0]!;
      return { name, role, up: parts.some((t) => t.up), ...summed(parts) };
    });
    const sample: PoolSample = {
      at: new Date(atMs),
      seq: ++seq,
      intervalMs,
      elapsedMs,
      status: instances.reduce<ServiceStatus>(
        (worst, i) => (STATUS_RANK[i.status] > STATUS_RANK[worst] ? i.status : worst),
        'ok',
      ),
      total: summed(instances.map((i) => i.total)),
      targets,
      queue: summedOrNull(
        instances.map((i) => i.queue),
        (a, b) => ({
          depth: a.depth + b.depth,
          running: a.running + b.running,
          concurrency: a.concurrency + b.concurrency,
        }),
      ),
      clients: summedOrNull(
        instances.map((i) => i.clients),
        (a, b) => ({
          total: a.total + b.total,
          active: a.active + b.active,
          waiting: a.waiting + b.waiting,
          idle: a.idle + b.idle,
          maxWaitMs: Math.max(a.maxWaitMs, b.maxWaitMs),
        }),
      ),
      instances,
    };
    previous = {
      atMs,
      byInstance: new Map(
        pools.map((p) => [
          p.instance,
          { totals: p.totals, targets: new Map(p.targets.map((t) => [t.name, t])) },
        ]),
      ),
    };
    return sample;
  };
}
