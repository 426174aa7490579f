import { ErrorCode, PoolpilotError } from '../../core/index.js';
import type { ClusterState, PoolState, PoolTotals, TargetState } from '../../core/pool/index.js';
import { builder } from '../builder.js';
import { roundMs, roundPercent } from '../rounding.js';
import { ClientSummaryRef, TrafficRef } from './clients.js';
import { ReplicationRef, ServiceStatusEnum, TargetRoleEnum, TargetStatusEnum } from './health.js';
import { LatencyRef } from './latency.js';

type Figures = PoolState | PoolTotals;

/** The figures PgBouncer's SHOW POOLS / SHOW STATS users know, for one target or all of them. */
export const PoolFiguresRef = builder.interfaceRef<Figures>('PoolFigures').implement({
  description:
    'Pool figures of one target, or summed over all of them. Counters are since start-up (SafeInt: they can ' +
    'pass 2^31); latencies in milliseconds to 3 decimals.',
  fields: (t) => ({
    total: t.exposeInt('total', { description: 'Open connections (idle + active + connecting).' }),
    idle: t.exposeInt('idle', { description: 'Connections open and free (sv_idle).' }),
    active: t.exposeInt('active', { description: 'Connections lent to a caller (sv_active, cl_active).' }),
    connecting: t.exposeInt('connecting', { description: 'Connections being opened.' }),
    waiting: t.exposeInt('waiting', { description: 'Callers waiting for a connection (cl_waiting).' }),
    maxWaitMs: t.float({
      description:
        'How long the oldest waiting caller has waited, milliseconds (maxwait); 0 when none waits.',
      resolve: (s) => roundMs(s.maxWaitMs),
    }),
    min: t.exposeInt('min', {
      description: 'Connections kept open even when idle (DB_POOL_MIN, resizePool).',
    }),
    max: t.exposeInt('max', { description: 'Most connections the pool opens (DB_POOL_SIZE, resizePool).' }),
    utilization: t.float({
      description:
        'active / max, 0..100 (2 decimals). /metrics exports the same as a 0..1 ratio ' +
        '(poolpilot_pool_utilization_ratio), as Prometheus expects.',
      resolve: (s) => roundPercent(s.utilization),
    }),
    acquireWait: t.field({
      type: LatencyRef,
      description: 'Time callers waited for a connection (0 when one was idle).',
      resolve: (s) => s.acquireWait,
    }),
    queryLatency: t.field({
      type: LatencyRef,
      description: 'Time statements held their connection, from send to result.',
      resolve: (s) => s.queryLatency,
    }),
    queries: t.field({
      type: 'SafeInt',
      description: 'Statements run since start-up.',
      resolve: (s) => s.queries,
    }),
    errors: t.field({
      type: 'SafeInt',
      description: 'Statements that failed since start-up.',
      resolve: (s) => s.errors,
    }),
    timeouts: t.field({
      type: 'SafeInt',
      description: 'Statements cancelled by statement_timeout.',
      resolve: (s) => s.timeouts,
    }),
    acquireTimeouts: t.field({
      type: 'SafeInt',
      description: 'Callers that gave up waiting for a connection (DB_CONN_TIMEOUT).',
      resolve: (s) => s.acquireTimeouts,
    }),
    connectionsOpened: t.field({
      type: 'SafeInt',
      description: 'Connections opened since start-up.',
      resolve: (s) => s.connectionsOpened,
    }),
    connectionsClosed: t.field({
      type: 'SafeInt',
      description: 'Connections closed since start-up (idle timeout, resize, errors).',
      resolve: (s) => s.connectionsClosed,
    }),
    resetting: t.exposeInt('resetting', {
      description: 'Of active: connections being reset (DISCARD ALL) after use, lent to no one (sv_tested).',
    }),
    paused: t.exposeBoolean('paused', {
      description:
        'pausePool (or the console PAUSE/KILL) holds new connections back; for the totals, every target is.',
    }),
    connectErrors: t.field({
      type: 'SafeInt',
      description: 'Attempts to open a connection that failed since start-up.',
      resolve: (s) => s.connectErrors,
    }),
  }),
});

/** A target's pool figures with the target they belong to. */
export type TargetPoolView = PoolState & { target: TargetState };
export type PoolStatsView = PoolTotals & { status: ClusterState['status']; targets: TargetPoolView[] };

export function poolStatsView(state: ClusterState): PoolStatsView {
  return {
    ...state.totals,
    status: state.status,
    targets: state.targets.map((t) => ({ ...t.pool, target: t })),
  };
}

export const TargetPoolStatsRef = builder.objectRef<TargetPoolView>('TargetPoolStats').implement({
  description: "One target's pool figures, with the target they belong to.",
  interfaces: [PoolFiguresRef],
  fields: (t) => ({
    clients: t.field({
      type: ClientSummaryRef,
      description: 'Wire-front clients holding a connection of this target (cl_active).',
      resolve: (s, _a, ctx) => ctx.poolpilot.clients.summary(s.target.name),
    }),
    traffic: t.field({
      type: TrafficRef,
      description: "Wire-front traffic to this target, in PgBouncer's SHOW STATS terms.",
      resolve: (s, _a, ctx) => ctx.poolpilot.clients.traffic(s.target.name),
    }),
    name: t.string({ description: 'primary, replica-1, ...', resolve: (s) => s.target.name }),
    role: t.field({
      type: TargetRoleEnum,
      description: 'Primary or replica.',
      resolve: (s) => s.target.role,
    }),
    status: t.field({
      type: TargetStatusEnum,
      description: 'The health-check verdict.',
      resolve: (s) => s.target.health.status,
    }),
    up: t.boolean({ description: 'status is UP.', resolve: (s) => s.target.health.status === 'up' }),
    downReason: t.string({
      nullable: true,
      description: 'Why it is not up; null when up.',
      resolve: (s) => (s.target.health.status === 'up' ? null : s.target.health.reason),
    }),
    replication: t.field({
      type: ReplicationRef,
      nullable: true,
      description: 'Replay lag; null for the primary.',
      resolve: (s) => s.target.replication,
    }),
  }),
});

export const PoolStatsRef = builder.objectRef<PoolStatsView>('PoolStats').implement({
  description: 'Totals across every target (the fields of PoolFigures), and each target on its own.',
  interfaces: [PoolFiguresRef],
  fields: (t) => ({
    clients: t.field({
      type: ClientSummaryRef,
      description: 'Every wire-front client by state (cl_active, cl_waiting, maxwait).',
      resolve: (_s, _a, ctx) => ctx.poolpilot.clients.summary(),
    }),
    traffic: t.field({
      type: TrafficRef,
      description: "Wire-front traffic to every target, in PgBouncer's SHOW STATS terms.",
      resolve: (_s, _a, ctx) => ctx.poolpilot.clients.totalTraffic(),
    }),
    status: t.field({
      type: ServiceStatusEnum,
      description: 'The service as a whole.',
      resolve: (s) => s.status,
    }),
    targets: t.field({
      type: [TargetPoolStatsRef],
      description: 'The primary first, then each replica.',
      resolve: (s) => s.targets,
    }),
    primary: t.field({
      type: TargetPoolStatsRef,
      description: "The primary's pool.",
      resolve: (s) => s.targets.find((x) => x.target.role === 'primary')!,
    }),
    replicas: t.field({
      type: [TargetPoolStatsRef],
      description: "Each replica's pool; empty without DB_REPLICA_URLS.",
      resolve: (s) => s.targets.filter((x) => x.target.role === 'replica'),
    }),
  }),
});

builder.queryField('poolStats', (t) =>
  t.field({
    type: PoolStatsRef,
    description: 'Pool figures per target and in total.',
    resolve: (_root, _args, ctx) => poolStatsView(ctx.poolpilot.poolState()),
  }),
);

builder.mutationField('resizePool', (t) =>
  t.field({
    type: PoolStatsRef,
    description:
      'Changes the pool size live (every target, or the one named). Connections in use are not interrupted; ' +
      'surplus ones close as they come back, new ones open up to the new min at once. Admin role. Errors: ' +
      'FORBIDDEN below admin; BAD_USER_INPUT for an unknown target or sizes out of range.',
    authScopes: { admin: true },
    args: {
      min: t.arg.int({ required: true, description: 'Connections kept open, 0..max.' }),
      max: t.arg.int({ required: true, description: 'Most connections per target, 1 or more.' }),
      target: t.arg.string({ required: false, description: 'A target name, e.g. primary or replica-1.' }),
    },
    resolve: (_root, args, ctx) => {
      const { cluster } = ctx.poolpilot;
      if (args.target) {
        const target = cluster.target(args.target);
        if (!target) {
          throw new PoolpilotError(ErrorCode.BadUserInput, `no target named ${JSON.stringify(args.target)}`);
        }
        target.pool.resize(args.min, args.max);
      } else {
        cluster.resize(args.min, args.max);
      }
      ctx.poolpilot.log.info({ min: args.min, max: args.max, target: args.target ?? 'all' }, 'pool resized');
      return poolStatsView(ctx.poolpilot.poolState());
    },
  }),
);
