import type { AuditEntry } from '../../core/audit/index.js';
import type { ApplyResult, Optimization } from '../../core/optimizer/index.js';
import { OptimizationKind } from '../../core/optimizer/index.js';
import { builder } from '../builder.js';
import type { Context } from '../context.js';

export const OptimizationKindEnum = builder.enumType('OptimizationKind', {
  values: Object.values(OptimizationKind),
});

export const RiskEnum = builder.enumType('OptimizationRisk', {
  description:
    'LOW: safe online. MEDIUM: ends a session or needs a restart. HIGH: advice that rewrites data.',
  values: ['LOW', 'MEDIUM', 'HIGH'] as const,
});

export const ApplyOutcomeEnum = builder.enumType('ApplyOutcome', {
  values: ['DRY_RUN', 'APPLIED', 'ALREADY_APPLIED', 'FAILED', 'ADVICE_ONLY', 'NOT_FOUND'] as const,
});

const OptimizationRef = builder.objectRef<Optimization>('Optimization').implement({
  description: 'A suggestion computed from the live database.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Stable: the same problem keeps the same id.' }),
    kind: t.field({ type: OptimizationKindEnum, resolve: (o) => o.kind }),
    title: t.exposeString('title'),
    rationale: t.exposeString('rationale', { description: 'Why, with the numbers.' }),
    risk: t.field({ type: RiskEnum, resolve: (o) => o.risk }),
    statements: t.exposeStringList('statements', {
      description: 'Exactly what applyOptimization runs, in order.',
    }),
    action: t.string({ description: 'The action in words.', resolve: (o) => o.actionSummary }),
    applicable: t.exposeBoolean('applicable', { description: 'False for advice only.' }),
    requiresRestart: t.exposeBoolean('requiresRestart'),
    evidence: t.field({ type: 'JSON', resolve: (o) => o.evidence }),
    artifact: t.string({
      nullable: true,
      description: 'A generated file (PGBOUNCER_CONFIG: pgbouncer.ini).',
      resolve: (o) => (o.action.type === 'artifact' ? o.action.content : null),
    }),
  }),
});

const AuditEntryRef = builder.objectRef<AuditEntry>('OptimizationAudit').implement({
  description: 'One applyOptimization attempt, from poolpilot.optimization_audit on the primary.',
  fields: (t) => ({
    id: t.exposeID('id'),
    optimizationId: t.exposeID('optimizationId'),
    kind: t.exposeString('kind'),
    title: t.exposeString('title'),
    actor: t.exposeString('actor', { description: 'Role of the caller.' }),
    dryRun: t.exposeBoolean('dryRun'),
    outcome: t.field({ type: ApplyOutcomeEnum, resolve: (e) => e.outcome }),
    statements: t.exposeStringList('statements'),
    executed: t.exposeStringList('executed'),
    before: t.field({ type: 'JSON', nullable: true, resolve: (e) => e.before }),
    after: t.field({ type: 'JSON', nullable: true, resolve: (e) => e.after }),
    message: t.exposeString('message', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
    startedAt: t.field({ type: 'DateTime', resolve: (e) => e.startedAt }),
    finishedAt: t.field({ type: 'DateTime', resolve: (e) => e.finishedAt }),
  }),
});

const ApplyResultRef = builder.objectRef<ApplyResult>('OptimizationResult').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    kind: t.exposeString('kind'),
    title: t.exposeString('title'),
    dryRun: t.exposeBoolean('dryRun'),
    outcome: t.field({ type: ApplyOutcomeEnum, resolve: (r) => r.outcome }),
    statements: t.exposeStringList('statements', { description: 'What runs (dry run) or was to run.' }),
    executed: t.exposeStringList('executed', { description: 'What completed, in order.' }),
    before: t.field({ type: 'JSON', nullable: true, resolve: (r) => r.before }),
    after: t.field({ type: 'JSON', nullable: true, resolve: (r) => r.after }),
    message: t.exposeString('message'),
    error: t.exposeString('error', { nullable: true }),
    artifact: t.exposeString('artifact', { nullable: true }),
    optimization: t.field({ type: OptimizationRef, nullable: true, resolve: (r) => r.optimization }),
    audit: t.field({ type: AuditEntryRef, resolve: (r) => r.audit }),
  }),
});

builder.queryField('optimizations', (t) =>
  t.field({
    type: [OptimizationRef],
    description: 'Current suggestions, computed from the live database.',
    args: { kind: t.arg({ type: OptimizationKindEnum, required: false }) },
    resolve: async (_root, args, ctx) => {
      const all = await ctx.poolpilot.optimizer.list();
      return args.kind ? all.filter((o) => o.kind === args.kind) : all;
    },
  }),
);

builder.queryField('optimizationHistory', (t) =>
  t.field({
    type: [AuditEntryRef],
    description: 'applyOptimization attempts, newest first.',
    args: { id: t.arg.id({ required: false }), limit: t.arg.int({ defaultValue: 50 }) },
    resolve: (_root, args, ctx) =>
      ctx.poolpilot.optimizer.history({
        optimizationId: args.id === null || args.id === undefined ? null : String(args.id),
        limit: Math.max(1, Math.min(args.limit ?? 50, 1_000)),
      }),
  }),
);

builder.mutationField('applyOptimization', (t) =>
  t.field({
    type: ApplyResultRef,
    authScopes: { admin: true },
    description:
      'Applies a current suggestion (admin). dryRun: returns exactly what would run and changes nothing. ' +
      'Every attempt is recorded in optimizationHistory.',
    args: { id: t.arg.id({ required: true }), dryRun: t.arg.boolean({ defaultValue: false }) },
    resolve: (_root, args, ctx) =>
      ctx.poolpilot.optimizer.apply(String(args.id), { dryRun: args.dryRun ?? false, actor: actorOf(ctx) }),
  }),
);

function actorOf(ctx: Context): string {
  return ctx.viewer.authEnabled ? (ctx.viewer.role ?? 'anonymous') : 'admin (no API_TOKENS: loopback only)';
}
