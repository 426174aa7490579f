import { ErrorCode, PoolpilotError } from '../errors.js';
import { Histogram } from '../histogram.js';
import type { Logger } from '../logger.js';
import { HealthMonitor, type HealthOptions } from './health-monitor.js';
import type { PoolOptions, PoolState } from './pool.js';
import { Target, type TargetSpec, type TargetState } from './target.js';

export type ServiceStatus = 'ok' | 'degraded' | 'down';

/** The same figures as one pool's, summed (latencies merged) across every target. */
export type PoolTotals = PoolState;

export interface ClusterState {
  status: ServiceStatus;
  /** The target writes go to now; null when none or several report being a primary. */
  writer: string | null;
  /** Why writes are refused while two or more targets report being a primary; else null. */
  splitBrain: string | null;
  targets: TargetState[];
  totals: PoolTotals;
}

export interface ClusterOptions {
  pool: PoolOptions;
  /** The control-plane pool of every target. */
  adminPool: PoolOptions;
  health: HealthOptions;
}

/**
 * The primary and its replicas, each with a pool, watched by one health monitor. Configuration
 * names the roles; the health checks say who plays them now: writes go to the one target that
 * reports being a primary (a promoted replica after a failover), reads to the targets that
 * report being standbys.
 */
export class Cluster {
  /** The configured primary (DATABASE_URL): poolpilot's own bookkeeping lives there. */
  readonly primary: Target;
  /** The configured replicas (DB_REPLICA_URLS). */
  readonly replicas: readonly Target[];
  readonly health: HealthMonitor;

  constructor(primary: TargetSpec, replicas: TargetSpec[], options: ClusterOptions, log: Logger) {
    this.primary = new Target(primary, options.pool, options.adminPool);
    this.replicas = replicas.map((spec) => new Target(spec, options.pool, options.adminPool));
    this.health = new HealthMonitor(this.targets, options.health, log.child({ component: 'health' }));
  }

  get targets(): Target[] {
    return [this.primary, ...this.replicas];
  }

  target(name: string): Target | undefined {
    return this.targets.find((t) => t.name === name);
  }

  /** Checks every target once, then warms the pools of those that are up. */
  async start(): Promise<void> {
    await this.health.start();
    for (const target of this.targets) if (target.isUp) target.pool.warm();
  }

  /**
   * Where writes go: the one target up that reports being a primary. With none detected, the
   * configured primary (down: its pool says why; read-only: the server refuses writes itself).
   * Two or more claim it: a split brain, and writing to either could diverge the two for good, so
   * nothing is written (DB_UNAVAILABLE) until one of them is demoted.
   */
  writer(): Target {
    const claimants = this.#claimants();
    if (claimants.length > 1) throw splitBrain(claimants);
    return claimants[0] ?? this.primary;
  }

  /**
   * The target acting as primary, for reading server statistics and poolpilot's own schema: the
   * writer, or the configured primary while none or several claim it. Never throws; what writes
   * uses `writer()`, which refuses a split brain.
   */
  actingPrimary(): Target {
    const claimants = this.#claimants();
    return claimants.length === 1 ? claimants[0]! : this.primary;
  }

  /** The writer's name for a route; never throws (a split brain is refused when the route is run). */
  writerName(): string {
    return this.actingPrimary().name;
  }

  /** Targets that report being standbys (or, not checked yet, are configured as replicas). */
  readers(): Target[] {
    return this.targets.filter((t) => t.role === 'replica');
  }

  /**
   * The target a route names, checked again as it is run: a route to a server acting as a primary
   * is refused while two servers claim that role.
   */
  resolve(name: string): Target {
    const target = this.target(name) ?? this.primary;
    if (target.role !== 'replica') this.writer();
    return target;
  }

  /** Why writes are refused now, or null: the split-brain reason. */
  splitBrain(): string | null {
    const claimants = this.#claimants();
    return claimants.length > 1 ? splitBrain(claimants).message : null;
  }

  status(): ServiceStatus {
    const claimants = this.#claimants();
    if (claimants.length !== 1) return 'down';
    return this.targets.every((t) => t.isUp) ? 'ok' : 'degraded';
  }

  #claimants(): Target[] {
    return this.targets.filter((t) => t.isUp && t.detectedRole === 'primary');
  }

  /** Resizes every data pool live (the control-plane pools keep their size). */
  resize(min: number, max: number): void {
    for (const target of this.targets) target.pool.resize(min, max);
  }

  state(): ClusterState {
    const targets = this.targets.map((t) => t.state());
    const claimants = this.#claimants();
    return {
      status: this.status(),
      writer: claimants.length === 1 ? claimants[0]!.name : null,
      splitBrain: this.splitBrain(),
      targets,
      totals: this.#totals(targets),
    };
  }

  async close(graceMs?: number): Promise<void> {
    await this.health.stop();
    await Promise.all(this.targets.flatMap((t) => [t.pool.end(graceMs), t.admin.end(graceMs)]));
  }

  #totals(targets: TargetState[]): PoolTotals {
    const sum = (pick: (s: TargetState) => number) => targets.reduce((acc, s) => acc + pick(s), 0);
    const acquireWait = new Histogram();
    const queryLatency = new Histogram();
    for (const target of this.targets) {
      const h = target.pool.histograms();
      acquireWait.merge(h.acquireWait);
      queryLatency.merge(h.queryLatency);
    }
    const max = sum((s) => s.pool.max);
    const active = sum((s) => s.pool.active);
    return {
      total: sum((s) => s.pool.total),
      idle: sum((s) => s.pool.idle),
      active,
      connecting: sum((s) => s.pool.connecting),
      waiting: sum((s) => s.pool.waiting),
      maxWaitMs: Math.max(0, ...targets.map((s) => s.pool.maxWaitMs)),
      min: sum((s) => s.pool.min),
      max,
      utilization: max === 0 ? 0 : Math.min(100, (active / max) * 100),
      acquireWait: acquireWait.summary(),
      queryLatency: queryLatency.summary(),
      queries: sum((s) => s.pool.queries),
      errors: sum((s) => s.pool.errors),
      timeouts: sum((s) => s.pool.timeouts),
      acquireTimeouts: sum((s) => s.pool.acquireTimeouts),
      connectionsOpened: sum((s) => s.pool.connectionsOpened),
      connectionsClosed: sum((s) => s.pool.connectionsClosed),
      connectErrors: sum((s) => s.pool.connectErrors),
      resets: sum((s) => s.pool.resets),
      resetting: sum((s) => s.pool.resetting),
      paused: targets.length > 0 && targets.every((s) => s.pool.paused),
    };
  }
}

function splitBrain(claimants: Target[]): PoolpilotError {
  const names = claimants.map((t) => t.name);
  const both = names.length === 2 ? `both ${names[0]} and ${names[1]}` : `all of ${names.join(', ')}`;
  return new PoolpilotError(
    ErrorCode.DbUnavailable,
    `split brain: ${both} report not in recovery; writes are refused until all but one are demoted`,
    { details: { targets: names } },
  );
}
