import type pg from 'pg';
import type { TargetEndpoint } from '../../shared/settings.js';
import { Pool, type PoolOptions, type PoolState } from './pool.js';

export type { TargetEndpoint };

export type TargetRole = 'primary' | 'replica';
/**
 * What the server itself says it is at the last health check: `primary` takes writes (not in
 * recovery, not read-only), `replica` does not (a standby in recovery, or a server with
 * default_transaction_read_only on), `unknown` before the first check and while it is down.
 */
export type DetectedRole = TargetRole | 'unknown';
export type TargetStatus = 'up' | 'down' | 'unknown';

export interface TargetSpec {
  name: string;
  role: TargetRole;
  /** The data role: callers' statements, and the analyzer's planning of them. */
  connection: pg.ClientConfig;
  endpoint: TargetEndpoint;
  /** The control-plane role: statistics, optimizations, health checks, the audit trail. */
  admin: pg.ClientConfig;
  adminEndpoint: TargetEndpoint;
}

export interface ReplicationState {
  /** Bytes of WAL the primary has written that this replica has not replayed. */
  lagBytes: number | null;
  /** Time since the last replayed transaction when replay is behind; 0 when caught up. */
  lagMs: number | null;
  replayPaused: boolean;
  receiveLsn: string | null;
  replayLsn: string | null;
}

export interface TargetHealth {
  status: TargetStatus;
  reason: string | null;
  /** When the status last changed. */
  since: Date;
  lastCheckAt: Date | null;
  lastCheckMs: number | null;
  consecutiveFailures: number;
  nextCheckAt: Date | null;
}

export interface RoleChange {
  target: string;
  from: TargetRole;
  to: TargetRole;
  at: Date;
}

export interface TargetState {
  name: string;
  /** As configured (DATABASE_URL or DB_REPLICA_URLS). */
  role: TargetRole;
  detectedRole: DetectedRole;
  /** When the detected role last differed from the one known before (null: never changed). */
  roleChangedAt: Date | null;
  /** Times a check found it in another role than before, since start. */
  roleChanges: number;
  endpoint: TargetEndpoint;
  health: TargetHealth;
  serverVersion: string | null;
  /** The primary's current WAL position (primary only). */
  walLsn: string | null;
  replication: ReplicationState | null;
  pool: PoolState;
}

/**
 * One PostgreSQL server poolpilot sends work to: its data pool, a small control-plane pool, and
 * what health checking knows of it.
 */
export class Target {
  readonly spec: TargetSpec;
  /** Callers' work, as the data role. Its figures are the target's load. */
  readonly pool: Pool;
  /** poolpilot's own work, as the admin role; kept apart so it never counts as (or waits for) callers' load. */
  readonly admin: Pool;
  health: TargetHealth = {
    status: 'unknown',
    reason: null,
    since: new Date(),
    lastCheckAt: null,
    lastCheckMs: null,
    consecutiveFailures: 0,
    nextCheckAt: null,
  };
  serverVersion: string | null = null;
  walLsn: string | null = null;
  replication: ReplicationState | null = null;
  detectedRole: DetectedRole = 'unknown';
  /** The last role a check saw (the configured one before any): a change is counted against it. */
  lastKnownRole: TargetRole;
  roleChangedAt: Date | null = null;
  roleChanges = 0;

  constructor(spec: TargetSpec, options: PoolOptions, adminOptions: PoolOptions) {
    this.spec = spec;
    this.lastKnownRole = spec.role;
    this.pool = new Pool(spec.name, spec.connection, options);
    // Named for the target too: its errors and samples are about that server.
    this.admin = new Pool(spec.name, spec.admin, adminOptions);
  }

  get name(): string {
    return this.spec.name;
  }

  get configuredRole(): TargetRole {
    return this.spec.role;
  }

  /** The role it acts in: what the server last said it is, the configured one until it says. */
  get role(): TargetRole {
    return this.detectedRole === 'unknown' ? this.spec.role : this.detectedRole;
  }

  get isUp(): boolean {
    return this.health.status === 'up';
  }

  state(): TargetState {
    return {
      name: this.spec.name,
      role: this.spec.role,
      detectedRole: this.detectedRole,
      roleChangedAt: this.roleChangedAt,
      roleChanges: this.roleChanges,
      endpoint: this.spec.endpoint,
      health: { ...this.health },
      serverVersion: this.serverVersion,
      walLsn: this.walLsn,
      replication: this.replication ? { ...this.replication } : null,
      pool: this.pool.state(),
    };
  }
}
