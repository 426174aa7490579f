import pg from 'pg';
import { HEALTH_APPLICATION_NAME } from '../application-name.js';
import { isConnectionError } from '../errors.js';
import type { Logger } from '../logger.js';
import { lsnDiff } from './lsn.js';
import { TARGET_CHECK } from './sql.js';
import type { RoleChange, Target, TargetRole, TargetStatus } from './target.js';

export interface HealthOptions {
  /** Between checks of a target that is up. */
  intervalMs: number;
  /** First retry after a failure; doubles up to `maxBackoffMs`. */
  initialBackoffMs: number;
  maxBackoffMs: number;
  connectionTimeoutMs: number;
}

export interface HealthChange {
  target: string;
  from: TargetStatus;
  to: TargetStatus;
  reason: string | null;
}

/**
 * Checks every target on its own timer over a dedicated connection (so a saturated pool cannot
 * hide a healthy server, nor a dead one keep looking healthy), marks failing targets down with
 * the reason, retries them with exponential back-off, and brings them back by itself.
 */
export class HealthMonitor {
  readonly #targets: Target[];
  readonly #options: HealthOptions;
  readonly #log: Logger;
  readonly #clients = new Map<Target, pg.Client>();
  readonly #timers = new Map<Target, NodeJS.Timeout>();
  /** The check under way per target: asking again while one runs waits for that one. */
  readonly #running = new Map<Target, Promise<void>>();
  readonly #listeners = new Set<(change: HealthChange) => void>();
  readonly #roleListeners = new Set<(change: RoleChange) => void>();
  #stopped = false;

  constructor(targets: Target[], options: HealthOptions, log: Logger) {
    this.#targets = targets;
    this.#options = options;
    this.#log = log;
    for (const target of targets) {
      for (const pool of [target.pool, target.admin]) {
        pool.onConnectError = (error) => {
          if (isConnectionError(error)) this.#fail(target, error.message);
        };
      }
    }
  }

  onChange(listener: (change: HealthChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Told when a check finds a target in another role than the one known before (a failover). */
  onRoleChange(listener: (change: RoleChange) => void): () => void {
    this.#roleListeners.add(listener);
    return () => this.#roleListeners.delete(listener);
  }

  /** Checks every target once, then keeps checking on the timers. */
  async start(): Promise<void> {
    // The configured primary first: replica lag in bytes is measured against its WAL position.
    const primary = this.#targets.filter((t) => t.configuredRole === 'primary');
    const replicas = this.#targets.filter((t) => t.configuredRole === 'replica');
    await Promise.all(primary.map((t) => this.check(t)));
    await Promise.all(replicas.map((t) => this.check(t)));
  }

  /** Runs one check of `target` now (or waits for the one under way) and schedules the next. */
  check(target: Target): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    const running = this.#running.get(target);
    if (running) return running;
    const check = this.#check(target);
    this.#running.set(target, check);
    return check;
  }

  async #check(target: Target): Promise<void> {
    clearTimeout(this.#timers.get(target));
    const started = performance.now();
    try {
      const client = await this.#client(target);
      const { rows } = await client.query(TARGET_CHECK);
      const row = rows[0];
      target.serverVersion = row.server_version;
      // Whatever the configuration says: a promoted replica takes writes, a demoted or read-only
      // primary does not.
      const role: TargetRole = row.in_recovery || row.read_only ? 'replica' : 'primary';
      target.walLsn = row.wal_lsn;
      if (row.in_recovery) {
        const primaryLsn =
          this.#targets.find((t) => t !== target && t.isUp && t.detectedRole === 'primary')?.walLsn ?? null;
        target.replication = {
          lagBytes: lsnDiff(primaryLsn ?? row.receive_lsn, row.replay_lsn),
          lagMs: row.lag_ms === null ? null : Math.max(0, Number(row.lag_ms)),
          replayPaused: row.replay_paused,
          receiveLsn: row.receive_lsn,
          replayLsn: row.replay_lsn,
        };
      } else {
        // Not a standby: nothing is replayed into it, so it has no lag figures to route reads by.
        target.replication = null;
      }
      this.#detected(target, role);
      target.health.lastCheckAt = new Date();
      target.health.lastCheckMs = performance.now() - started;
      this.#succeed(target);
    } catch (error) {
      target.health.lastCheckAt = new Date();
      target.health.lastCheckMs = performance.now() - started;
      this.#dropClient(target);
      this.#fail(target, (error as Error).message);
    } finally {
      this.#running.delete(target);
      this.#schedule(target);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    await Promise.all([...this.#clients.values()].map((c) => c.end().catch(() => undefined)));
    this.#clients.clear();
  }

  #schedule(target: Target): void {
    if (this.#stopped) return;
    const failures = target.health.consecutiveFailures;
    const delay =
      failures === 0
        ? this.#options.intervalMs
        : Math.min(this.#options.maxBackoffMs, this.#options.initialBackoffMs * 2 ** (failures - 1));
    target.health.nextCheckAt = new Date(Date.now() + delay);
    const timer = setTimeout(() => void this.check(target), delay);
    timer.unref();
    this.#timers.set(target, timer);
  }

  #succeed(target: Target): void {
    target.health.consecutiveFailures = 0;
    if (target.health.status !== 'up') {
      this.#transition(target, 'up', null);
      target.pool.markAvailable();
      target.admin.markAvailable();
    }
  }

  #detected(target: Target, role: TargetRole): void {
    target.detectedRole = role;
    if (role === target.lastKnownRole) return;
    const change: RoleChange = { target: target.name, from: target.lastKnownRole, to: role, at: new Date() };
    target.lastKnownRole = role;
    target.roleChangedAt = change.at;
    target.roleChanges += 1;
    this.#log.warn(
      { ...change, configuredRole: target.configuredRole },
      `target ${target.name} now reports being a ${role} (was ${change.from})`,
    );
    for (const listener of this.#roleListeners) listener(change);
  }

  #fail(target: Target, reason: string): void {
    target.health.consecutiveFailures += 1;
    // A server that does not answer says nothing about its role: it may come back promoted.
    target.detectedRole = 'unknown';
    const wasDown = target.health.status === 'down';
    target.health.reason = reason;
    target.pool.markUnavailable(reason);
    target.admin.markUnavailable(reason);
    if (!wasDown) {
      this.#transition(target, 'down', reason);
      // Failure reported by the pool between checks: start the back-off now rather than at the
      // next regular tick.
      if (!this.#running.has(target) && !this.#stopped) {
        clearTimeout(this.#timers.get(target));
        this.#schedule(target);
      }
    }
  }

  #transition(target: Target, to: TargetStatus, reason: string | null): void {
    const from = target.health.status;
    target.health.status = to;
    target.health.reason = reason;
    target.health.since = new Date();
    const log = to === 'up' ? this.#log.info.bind(this.#log) : this.#log.warn.bind(this.#log);
    log({ target: target.name, from, to, reason }, `target ${target.name} is ${to}`);
    for (const listener of this.#listeners) listener({ target: target.name, from, to, reason });
  }

  async #client(target: Target): Promise<pg.Client> {
    const existing = this.#clients.get(target);
    if (existing) return existing;
    const client = new pg.Client({
      // The control-plane role: replication figures need pg_monitor (or superuser).
      ...target.spec.admin,
      application_name: HEALTH_APPLICATION_NAME,
      connectionTimeoutMillis: this.#options.connectionTimeoutMs,
      query_timeout: this.#options.connectionTimeoutMs,
    });
    client.on('error', () => this.#dropClient(target));
    this.#clients.set(target, client);
    try {
      await client.connect();
    } catch (error) {
      this.#clients.delete(target);
      throw error;
    }
    return client;
  }

  #dropClient(target: Target): void {
    const client = this.#clients.get(target);
    if (!client) return;
    this.#clients.delete(target);
    client.end().catch(() => undefined);
    // A server that stalled answers no Terminate either: without this the socket would stay open
    // for as long as the stall lasts, one more after every failed check.
    const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection
      ?.stream;
    setTimeout(() => stream?.destroy(), 1_000).unref();
  }
}
