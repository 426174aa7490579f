import { ErrorCode, PoolpilotError } from '../../core/index.js';
import type { ClusterState, PoolState, PoolTotals, TargetState } from '../../core/pool/index.js';
import { builder } from '../builder.js';
import { ReplicationRef, ServiceStatusEnum, TargetRoleEnum, TargetStatusEnum } from './health.js';
import { LatencyRef } from './latency.js';

type Figures = PoolState | PoolTotals;

/** The figures PgBouncer's SHOW POOLS / SHOW STATS users know, for one target or all of them. */
export const PoolFiguresRef = builder.interfaceRef<Figures>('PoolFigures').implement({
  fields: (t) => ({
    total: t.exposeInt('total', { description: 'Open connections (idle + active + connecting).' }),
    idle: t.exposeInt('idle', { description: 'Connections open and free (sv_idle).' }),
    active: t.exposeInt('active', { description: 'Connections lent to a caller (sv_active, cl_active).' }),
    connecting: t.exposeInt('connecting', { description: 'Connections being opened.' }),
    waiting: t.exposeInt('waiting', { description: 'Callers waiting for a connection (cl_waiting).' }),
    maxWaitMs: t.exposeFloat('maxWaitMs', {
      description: 'How long the oldest waiting caller has waited (maxwait).',
    }),
    min: t.exposeInt('min'),
    max: t.exposeInt('max'),
    utilization: t.exposeFloat('utilization', { description: 'active / max, 0..100.' }),
    acquireWait: t.field({ type: LatencyRef, resolve: (s) => s.acquireWait }),
    queryLatency: t.field({ type: LatencyRef, resolve: (s) => s.queryLatency }),
    queries: t.exposeInt('queries', { description: 'Statements run since start-up.' }),
    errors: t.exposeInt('errors', { description: 'Statements that failed since start-up.' }),
    timeouts: t.exposeInt('timeouts', { description: 'Statements cancelled by statement_timeout.' }),
    acquireTimeouts: t.exposeInt('acquireTimeouts', {
      description: 'Callers that gave up waiting for a connection.',
    }),
    connectionsOpened: t.exposeInt('connectionsOpened'),
    connectionsClosed: t.exposeInt('connectionsClosed'),
    connectErrors: t.exposeInt('connectErrors'),
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
  interfaces: [PoolFiguresRef],
  fields: (t) => ({
    name: t.string({ resolve: (s) => s.target.name }),
    role: t.field({ type: TargetRoleEnum, resolve: (s) => s.target.role }),
    status: t.field({ type: TargetStatusEnum, resolve: (s) => s.target.health.status }),
    up: t.boolean({ resolve: (s) => s.target.health.status === 'up' }),
    downReason: t.string({
      nullable: true,
      resolve: (s) => (s.target.health.status === 'up' ? null : s.target.health.reason),
    }),
    replication: t.field({ type: ReplicationRef, nullable: true, resolve: (s) => s.target.replication }),
  }),
});

export const PoolStatsRef = builder.objectRef<PoolStatsView>('PoolStats').implement({
  description: 'Totals across every target (the fields of PoolFigures), and each target on its own.',
  interfaces: [PoolFiguresRef],
  fields: (t) => ({
    status: t.field({ type: ServiceStatusEnum, resolve: (s) => s.status }),
    targets: t.field({ type: [TargetPoolStatsRef], resolve: (s) => s.targets }),
    primary: t.field({
      type: TargetPoolStatsRef,
      resolve: (s) => s.targets.find((x) => x.target.role === 'primary')!,
    }),
    replicas: t.field({
      type: [TargetPoolStatsRef],
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
      'surplus ones close as they come back, new ones open up to the new min at once.',
    authScopes: { admin: true },
    args: {
      min: t.arg.int({ required: true }),
      max: t.arg.int({ required: true }),
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
