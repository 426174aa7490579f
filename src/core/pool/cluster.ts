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
  targets: TargetState[];
  totals: PoolTotals;
}

export interface ClusterOptions {
  pool: PoolOptions;
  /** The control-plane pool of every target. */
  adminPool: PoolOptions;
  health: HealthOptions;
}

/** The primary and its replicas, each with a pool, watched by one health monitor. */
export class Cluster {
  readonly primary: Target;
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

  status(): ServiceStatus {
    if (!this.primary.isUp) return 'down';
    return this.replicas.every((r) => r.isUp) ? 'ok' : 'degraded';
  }

  /** Resizes every data pool live (the control-plane pools keep their size). */
  resize(min: number, max: number): void {
    for (const target of this.targets) target.pool.resize(min, max);
  }

  state(): ClusterState {
    const targets = this.targets.map((t) => t.state());
    return { status: this.status(), targets, totals: this.#totals(targets) };
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
