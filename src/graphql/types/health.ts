import type { ParserState } from '../../core/analyzer/index.js';
import type { ReplicationState, TargetState } from '../../core/pool/index.js';
import { builder } from '../builder.js';

export const ServiceStatusEnum = builder.enumType('ServiceStatus', {
  description:
    'ok: every target up; degraded: the primary up, a replica down (or the SQL parser restarted lately); down: no primary.',
  values: { OK: { value: 'ok' }, DEGRADED: { value: 'degraded' }, DOWN: { value: 'down' } } as const,
});

export const TargetStatusEnum = builder.enumType('TargetStatus', {
  values: { UP: { value: 'up' }, DOWN: { value: 'down' }, UNKNOWN: { value: 'unknown' } } as const,
});

export const TargetRoleEnum = builder.enumType('TargetRole', {
  values: { PRIMARY: { value: 'primary' }, REPLICA: { value: 'replica' } } as const,
});

export const ReplicationRef = builder.objectRef<ReplicationState>('Replication').implement({
  fields: (t) => ({
    lagBytes: t.exposeFloat('lagBytes', {
      nullable: true,
      description: 'WAL bytes the primary wrote that this replica has not replayed.',
    }),
    lagMs: t.exposeFloat('lagMs', {
      nullable: true,
      description: 'Time since the last replayed transaction while behind; 0 when caught up.',
    }),
    replayPaused: t.exposeBoolean('replayPaused'),
    receiveLsn: t.exposeString('receiveLsn', { nullable: true }),
    replayLsn: t.exposeString('replayLsn', { nullable: true }),
  }),
});

export const TargetHealthRef = builder.objectRef<TargetState>('TargetHealth').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    role: t.field({ type: TargetRoleEnum, resolve: (s) => s.role }),
    status: t.field({ type: TargetStatusEnum, resolve: (s) => s.health.status }),
    reachable: t.boolean({ resolve: (s) => s.health.status === 'up' }),
    reason: t.string({ nullable: true, resolve: (s) => s.health.reason }),
    since: t.field({ type: 'DateTime', resolve: (s) => s.health.since }),
    lastCheckAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.health.lastCheckAt }),
    lastCheckMs: t.float({ nullable: true, resolve: (s) => s.health.lastCheckMs }),
    consecutiveFailures: t.int({ resolve: (s) => s.health.consecutiveFailures }),
    nextCheckAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.health.nextCheckAt }),
    host: t.string({ resolve: (s) => s.endpoint.host }),
    port: t.int({ resolve: (s) => s.endpoint.port }),
    database: t.string({ resolve: (s) => s.endpoint.database }),
    serverVersion: t.exposeString('serverVersion', { nullable: true }),
    replication: t.field({ type: ReplicationRef, nullable: true, resolve: (s) => s.replication }),
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
    reason: t.exposeString('reason', { nullable: true }),
    resets: t.exposeInt('resets', {
      description: 'Parser instances replaced after an internal failure since start.',
    }),
    lastResetAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.lastResetAt }),
    refused: t.exposeInt('refused', {
      description: 'Statements not parsed because they nest too deep to parse safely.',
    }),
  }),
});

export interface HealthSnapshot {
  status: 'ok' | 'degraded' | 'down';
  checkedAt: Date;
  targets: TargetState[];
  analyzer: ParserState;
}

export const HealthRef = builder.objectRef<HealthSnapshot>('Health').implement({
  description: 'Liveness and readiness, as GET /health.',
  fields: (t) => ({
    status: t.field({ type: ServiceStatusEnum, resolve: (h) => h.status }),
    checkedAt: t.field({ type: 'DateTime', resolve: (h) => h.checkedAt }),
    targets: t.field({ type: [TargetHealthRef], resolve: (h) => h.targets }),
    analyzer: t.field({ type: AnalyzerHealthRef, resolve: (h) => h.analyzer }),
  }),
});

builder.queryField('health', (t) =>
  t.field({
    type: HealthRef,
    description: 'The same figures as GET /health.',
    resolve: (_root, _args, ctx) => {
      const state = ctx.poolpilot.poolState();
      const analyzer = ctx.poolpilot.analyzer.state();
      const status = state.status === 'ok' && analyzer.status !== 'ok' ? 'degraded' : state.status;
      return { status, checkedAt: new Date(), targets: state.targets, analyzer };
    },
  }),
);
