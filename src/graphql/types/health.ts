import type { ParserState } from '../../core/analyzer/index.js';
import type { FleetState } from '../../core/fleet/index.js';
import type { ReplicationState, TargetState } from '../../core/pool/index.js';
import { builder } from '../builder.js';
import { roundMs } from '../rounding.js';
import { FleetHealthRef } from './fleet.js';

export const ServiceStatusEnum = builder.enumType('ServiceStatus', {
  description:
    'The service as a whole. GET /health writes the same values in lower case (ok, degraded, down): ' +
    'GraphQL enum values are upper case by convention.',
  values: {
    OK: { value: 'ok', description: 'Every target up.' },
    DEGRADED: {
      value: 'degraded',
      description:
        'The primary up, and a replica down (reads fall back to the primary), the SQL parser restarted ' +
        'lately, or Redis (REDIS_URL) unreachable.',
    },
    DOWN: {
      value: 'down',
      description:
        'No primary (none up, or a split brain: several report being one): statements for the primary fail with DB_UNAVAILABLE; /health answers 503.',
    },
  } as const,
});

export const TargetStatusEnum = builder.enumType('TargetStatus', {
  description: 'One database server as the health checks see it (/health: up, down, unknown).',
  values: {
    UP: { value: 'up', description: 'The last health check succeeded.' },
    DOWN: { value: 'down', description: 'Health checks fail; reason says why. Retried with back-off.' },
    UNKNOWN: { value: 'unknown', description: 'Not checked yet (just started).' },
  } as const,
});

export const TargetRoleEnum = builder.enumType('TargetRole', {
  description: 'What a target is for (/health: primary, replica).',
  values: {
    PRIMARY: { value: 'primary', description: 'Takes writes, locks, transactions and fast reads.' },
    REPLICA: {
      value: 'replica',
      description: 'A streaming read replica (DB_REPLICA_URLS): medium and complex reads.',
    },
  } as const,
});

export const DetectedRoleEnum = builder.enumType('DetectedRole', {
  description:
    'What the server itself says it is at the last health check (/health: primary, replica, unknown). ' +
    'Writes go to the one target that reports PRIMARY; two or more reporting it is a split brain and writes are refused.',
  values: {
    PRIMARY: {
      value: 'primary',
      description: 'pg_is_in_recovery() is false and default_transaction_read_only is off: takes writes.',
    },
    REPLICA: {
      value: 'replica',
      description:
        'A standby in recovery, or a server with default_transaction_read_only on: never written to.',
    },
    UNKNOWN: { value: 'unknown', description: 'Not checked yet, or down.' },
  } as const,
});

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

/** The role fields every view of a target shares (health, info). */
export function roleFields(t: PothosSchemaTypes.ObjectFieldBuilder<Types, TargetState>) {
  return {
    configuredRole: t.field({
      type: TargetRoleEnum,
      description: 'The role configuration gives it: DATABASE_URL is the primary, DB_REPLICA_URLS replicas.',
      resolve: (s) => s.role,
    }),
    detectedRole: t.field({
      type: DetectedRoleEnum,
      description:
        'The role the server reports (pg_is_in_recovery(), default_transaction_read_only) at the last check.',
      resolve: (s) => s.detectedRole,
    }),
    roleChangedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description:
        'When a check last found it in another role than before (a promotion or demotion); null if never.',
      resolve: (s) => s.roleChangedAt,
    }),
  };
}

export const ReplicationRef = builder.objectRef<ReplicationState>('Replication').implement({
  description: "A replica's position behind the primary, from its last health check.",
  fields: (t) => ({
    lagBytes: t.field({
      type: 'SafeInt',
      nullable: true,
      description: 'WAL bytes the primary wrote that this replica has not replayed; null when unknown.',
      resolve: (r) => r.lagBytes,
    }),
    lagMs: t.float({
      nullable: true,
      description:
        'Milliseconds (3 decimals) since the last replayed transaction while behind; 0 when caught up. ' +
        'Above DB_REPLICA_MAX_LAG_MS the replica is skipped.',
      resolve: (r) => roundMs(r.lagMs),
    }),
    replayPaused: t.exposeBoolean('replayPaused', {
      description: 'pg_is_wal_replay_paused(): replay stopped.',
    }),
    receiveLsn: t.exposeString('receiveLsn', {
      nullable: true,
      description: 'pg_last_wal_receive_lsn(), e.g. 0/3000148.',
    }),
    replayLsn: t.exposeString('replayLsn', { nullable: true, description: 'pg_last_wal_replay_lsn().' }),
  }),
});

export const TargetHealthRef = builder.objectRef<TargetState>('TargetHealth').implement({
  description: 'One target (the primary or a replica) as the health checks see it.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'primary, replica-1, replica-2, ...' }),
    role: t.field({
      type: TargetRoleEnum,
      description: 'Primary or replica, as configured (see detectedRole for what it is now).',
      resolve: (s) => s.role,
    }),
    status: t.field({
      type: TargetStatusEnum,
      description: 'The health-check verdict.',
      resolve: (s) => s.health.status,
    }),
    reachable: t.boolean({ description: 'status is UP.', resolve: (s) => s.health.status === 'up' }),
    reason: t.string({
      nullable: true,
      description: 'Why it is down (the connection error); null when up.',
      resolve: (s) => s.health.reason,
    }),
    since: t.field({
      type: 'DateTime',
      description: 'When status last changed.',
      resolve: (s) => s.health.since,
    }),
    lastCheckAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the last health check finished; null before the first.',
      resolve: (s) => s.health.lastCheckAt,
    }),
    lastCheckMs: t.float({
      nullable: true,
      description: 'How long the last health check took, milliseconds (3 decimals).',
      resolve: (s) => roundMs(s.health.lastCheckMs),
    }),
    consecutiveFailures: t.int({
      description: 'Health checks failed in a row; 0 when up.',
      resolve: (s) => s.health.consecutiveFailures,
    }),
    nextCheckAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the next check is due (HEALTH_CHECK_INTERVAL_MS, longer with back-off when down).',
      resolve: (s) => s.health.nextCheckAt,
    }),
    host: t.string({ description: 'Host name or address connected to.', resolve: (s) => s.endpoint.host }),
    port: t.int({ description: 'TCP port, 1..65535.', resolve: (s) => s.endpoint.port }),
    database: t.string({ description: 'Database name.', resolve: (s) => s.endpoint.database }),
    serverVersion: t.exposeString('serverVersion', {
      nullable: true,
      description: 'server_version, e.g. 16.4; null until first reached.',
    }),
    replication: t.field({
      type: ReplicationRef,
      nullable: true,
      description: 'Replay position and lag; null for a target that is not a standby.',
      resolve: (s) => s.replication,
    }),
    ...roleFields(t),
  }),
});

export const AnalyzerHealthRef = builder.objectRef<ParserState>('AnalyzerHealth').implement({
  description: "The query analyzer's SQL parser.",
  fields: (t) => ({
    status: t.field({
      type: ServiceStatusEnum,
      description:
        'DEGRADED while the parser cannot be loaded, or for a minute after it had to be restarted.',
      resolve: (s) => s.status,
    }),
    reason: t.exposeString('reason', {
      nullable: true,
      description: 'Why the parser is degraded (its last failure), or null when it is ok.',
    }),
    resets: t.exposeInt('resets', {
      description: 'Parser instances replaced after an internal failure since start.',
    }),
    lastResetAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the parser was last replaced after a failure; null if never.',
      resolve: (s) => s.lastResetAt,
    }),
    refused: t.exposeInt('refused', {
      description: 'Statements not parsed because they nest too deep to parse safely.',
    }),
  }),
});

export interface HealthSnapshot {
  status: 'ok' | 'degraded' | 'down';
  checkedAt: Date;
  writer: string | null;
  splitBrain: string | null;
  targets: TargetState[];
  analyzer: ParserState;
  fleet: FleetState | null;
}

export const HealthRef = builder.objectRef<HealthSnapshot>('Health').implement({
  description: 'Liveness and readiness, as GET /health.',
  fields: (t) => ({
    status: t.field({
      type: ServiceStatusEnum,
      description: 'The service as a whole.',
      resolve: (h) => h.status,
    }),
    checkedAt: t.field({
      type: 'DateTime',
      description: 'When this answer was put together (targets keep their own lastCheckAt).',
      resolve: (h) => h.checkedAt,
    }),
    targets: t.field({
      type: [TargetHealthRef],
      description: 'The primary first, then each replica.',
      resolve: (h) => h.targets,
    }),
    writer: t.string({
      nullable: true,
      description:
        'The target writes go to now: the one that reports being a primary (a promoted replica after a failover); null when none or several do.',
      resolve: (h) => h.writer,
    }),
    splitBrain: t.string({
      nullable: true,
      description:
        'Set while two or more targets report being a primary: why writes are refused (DB_UNAVAILABLE, SQLSTATE 08006 on the wire).',
      resolve: (h) => h.splitBrain,
    }),
    analyzer: t.field({
      type: AnalyzerHealthRef,
      description: 'The SQL parser: its state, and how often it was replaced after a failure.',
      resolve: (h) => h.analyzer,
    }),
    fleet: t.field({
      type: FleetHealthRef,
      nullable: true,
      description: "Redis and this instance's connection shares; null without REDIS_URL.",
      resolve: (h) => h.fleet,
    }),
  }),
});

builder.queryField('health', (t) =>
  t.field({
    type: HealthRef,
    description: 'The same figures as GET /health.',
    resolve: (_root, _args, ctx) => {
      const state = ctx.poolpilot.poolState();
      return {
        status: ctx.poolpilot.status(state),
        checkedAt: new Date(),
        targets: state.targets,
        writer: state.writer,
        splitBrain: state.splitBrain,
        analyzer: ctx.poolpilot.analyzer.state(),
        fleet: ctx.poolpilot.fleet?.state() ?? null,
      };
    },
  }),
);
