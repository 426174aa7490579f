import type { AuditEntry } from '../../core/audit/index.js';
import type { ApplyResult, Optimization } from '../../core/optimizer/index.js';
import { OptimizationKind } from '../../core/optimizer/index.js';
import { builder } from '../builder.js';
import type { Context } from '../context.js';
import { page, pageDescription } from '../paging.js';

const KIND_DESCRIPTIONS: Record<OptimizationKind, string> = {
  POOL_RESIZE: "Resizes poolpilot's pools live to the guide's size for the server's CPUs.",
  SETTING_CHANGE: 'ALTER SYSTEM SET for one server setting (PGTune); some need a restart.',
  ENABLE_PG_STAT_STATEMENTS:
    'Makes pg_stat_statements usable for slowQueries: install it (advice), preload it, or CREATE EXTENSION.',
  SLOW_QUERY_LOGGING: 'Turns on log_min_duration_statement so slow statements reach the server log.',
  ANALYZE_TABLE: 'ANALYZE of a table whose planner statistics are stale.',
  CREATE_INDEX: 'CREATE INDEX CONCURRENTLY for a column slow statements scan sequentially.',
  TERMINATE_IDLE_IN_TRANSACTION: 'pg_terminate_backend of a session idle in a transaction too long.',
  PARTITION_TABLE: 'Advice only: range-partition a large append-mostly table on a time column.',
  PGBOUNCER_CONFIG: 'A generated pgbouncer.ini (artifact) for this setup; nothing runs.',
};

type Kind = OptimizationKind | 'UNKNOWN';

export const OptimizationKindEnum = builder.enumType('OptimizationKind', {
  description: 'What a suggestion does.',
  values: {
    ...Object.fromEntries(
      Object.values(OptimizationKind).map((kind) => [
        kind,
        { value: kind, description: KIND_DESCRIPTIONS[kind] },
      ]),
    ),
    UNKNOWN: {
      value: 'UNKNOWN',
      description:
        'Only in optimizationHistory: an attempt whose id matched no current suggestion (NOT_FOUND).',
    },
  } as Record<Kind, { value: Kind; description: string }>,
});

/** Audit rows keep the kind as text: one written by another version may name a kind this one lacks. */
function kindOf(text: string): Kind {
  return (Object.values(OptimizationKind) as string[]).includes(text)
    ? (text as OptimizationKind)
    : 'UNKNOWN';
}

export const RiskEnum = builder.enumType('OptimizationRisk', {
  description:
    'LOW: safe online. MEDIUM: ends a session or needs a restart. HIGH: advice that rewrites data.',
  values: {
    LOW: { description: 'Safe online: nothing is interrupted.' },
    MEDIUM: { description: 'Ends a session, or takes effect only after a server restart.' },
    HIGH: { description: 'Rewrites data (partitioning): advice only, never applied by poolpilot.' },
  } as const,
});

export const ApplyOutcomeEnum = builder.enumType('ApplyOutcome', {
  description: 'What one applyOptimization attempt came to.',
  values: {
    DRY_RUN: { description: 'dryRun: true; statements says what would run, nothing changed.' },
    APPLIED: { description: 'Every statement ran; after holds the new state.' },
    ALREADY_APPLIED: {
      description: 'The id was applied before and its problem is gone: nothing was changed.',
    },
    FAILED: { description: 'A statement failed; executed lists what completed, error says why.' },
    ADVICE_ONLY: { description: 'Not applicable (applicable: false): nothing to run, see the rationale.' },
    NOT_FOUND: {
      description:
        'Only in optimizationHistory: no current suggestion had the id. applyOptimization itself answers ' +
        'such an id with an OPTIMIZATION_NOT_FOUND error, never with this outcome.',
    },
  } as const,
});

const OptimizationRef = builder.objectRef<Optimization>('Optimization').implement({
  description: 'A suggestion computed from the live database.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Stable: the same problem keeps the same id.' }),
    kind: t.field({ type: OptimizationKindEnum, description: 'What it does.', resolve: (o) => o.kind }),
    title: t.exposeString('title', { description: 'One line, for a list.' }),
    rationale: t.exposeString('rationale', { description: 'Why, with the numbers.' }),
    risk: t.field({ type: RiskEnum, description: 'What applying it can disturb.', resolve: (o) => o.risk }),
    statements: t.exposeStringList('statements', {
      description: 'Exactly what applyOptimization runs, in order.',
    }),
    action: t.string({ description: 'The action in words.', resolve: (o) => o.actionSummary }),
    applicable: t.exposeBoolean('applicable', { description: 'False for advice only.' }),
    requiresRestart: t.exposeBoolean('requiresRestart', {
      description: 'Takes effect only after a server restart (a postmaster setting).',
    }),
    evidence: t.field({
      type: 'JSON',
      description: 'The figures the suggestion was computed from, as an object.',
      resolve: (o) => o.evidence,
    }),
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
    id: t.exposeID('id', { description: 'The audit row, increasing with time.' }),
    optimizationId: t.exposeID('optimizationId', { description: 'The id given to applyOptimization.' }),
    kind: t.field({
      type: OptimizationKindEnum,
      description: 'What the suggestion did; UNKNOWN for an id that matched none.',
      resolve: (e) => kindOf(e.kind),
    }),
    title: t.exposeString('title', { description: "The suggestion's title at the time." }),
    actor: t.exposeString('actor', { description: 'Role of the caller.' }),
    dryRun: t.exposeBoolean('dryRun', { description: 'Asked as a dry run.' }),
    outcome: t.field({ type: ApplyOutcomeEnum, description: 'What it came to.', resolve: (e) => e.outcome }),
    statements: t.exposeStringList('statements', { description: 'What was to run.' }),
    executed: t.exposeStringList('executed', { description: 'What completed, in order.' }),
    before: t.field({
      type: 'JSON',
      nullable: true,
      description: 'The state before (the setting, the pool size, ...); null when nothing was read.',
      resolve: (e) => e.before,
    }),
    after: t.field({
      type: 'JSON',
      nullable: true,
      description: 'The state after; null when nothing ran.',
      resolve: (e) => e.after,
    }),
    message: t.exposeString('message', { nullable: true, description: 'What happened, in words.' }),
    error: t.exposeString('error', { nullable: true, description: 'Why it failed; null unless FAILED.' }),
    startedAt: t.field({
      type: 'DateTime',
      description: 'When the attempt began.',
      resolve: (e) => e.startedAt,
    }),
    finishedAt: t.field({
      type: 'DateTime',
      description: 'When it was recorded.',
      resolve: (e) => e.finishedAt,
    }),
  }),
});

const ApplyResultRef = builder.objectRef<ApplyResult>('OptimizationResult').implement({
  description: 'What applyOptimization did (or, for a dry run, would do), with its audit entry.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The optimization id given.' }),
    kind: t.field({
      type: OptimizationKindEnum,
      description: 'What it does.',
      resolve: (r) => kindOf(r.kind),
    }),
    title: t.exposeString('title', { description: "The suggestion's title." }),
    dryRun: t.exposeBoolean('dryRun', { description: 'Asked as a dry run: nothing changed.' }),
    outcome: t.field({ type: ApplyOutcomeEnum, description: 'What it came to.', resolve: (r) => r.outcome }),
    statements: t.exposeStringList('statements', { description: 'What runs (dry run) or was to run.' }),
    executed: t.exposeStringList('executed', { description: 'What completed, in order.' }),
    before: t.field({
      type: 'JSON',
      nullable: true,
      description: 'The state before; null when nothing was read.',
      resolve: (r) => r.before,
    }),
    after: t.field({
      type: 'JSON',
      nullable: true,
      description: 'The state after; null when nothing ran.',
      resolve: (r) => r.after,
    }),
    message: t.exposeString('message', { description: 'What happened, in words.' }),
    error: t.exposeString('error', { nullable: true, description: 'Why it failed; null unless FAILED.' }),
    artifact: t.exposeString('artifact', {
      nullable: true,
      description: 'The generated file (PGBOUNCER_CONFIG: pgbouncer.ini); null for other kinds.',
    }),
    optimization: t.field({
      type: OptimizationRef,
      nullable: true,
      description: 'The suggestion as it stood; null when ALREADY_APPLIED.',
      resolve: (r) => r.optimization,
    }),
    audit: t.field({
      type: AuditEntryRef,
      description: 'The row this attempt wrote to optimizationHistory.',
      resolve: (r) => r.audit,
    }),
  }),
});

builder.queryField('optimizations', (t) =>
  t.field({
    type: [OptimizationRef],
    description: 'Current suggestions, computed from the live database.',
    args: {
      kind: t.arg({
        type: OptimizationKindEnum,
        required: false,
        description: 'Only suggestions of this kind; all when omitted.',
      }),
    },
    resolve: async (_root, args, ctx) => {
      const all = await ctx.poolpilot.optimizer.list();
      return args.kind ? all.filter((o) => o.kind === args.kind) : all;
    },
  }),
);

/** The most audit rows one call returns. */
export const HISTORY_CAP = 1_000;
const paging = pageDescription(HISTORY_CAP);

builder.queryField('optimizationHistory', (t) =>
  t.field({
    type: [AuditEntryRef],
    description:
      `applyOptimization attempts, newest first; the newest ${HISTORY_CAP} are reachable with limit and offset. ` +
      'Errors: BAD_USER_INPUT for a limit or offset out of range.',
    args: {
      id: t.arg.id({ required: false, description: 'Only attempts on this optimization id.' }),
      limit: t.arg.int({ defaultValue: 50, description: paging.limit }),
      offset: t.arg.int({ defaultValue: 0, description: paging.offset }),
    },
    resolve: async (_root, args, ctx) => {
      const p = page('optimizationHistory', args.limit ?? 50, args.offset ?? 0, HISTORY_CAP);
      const entries = await ctx.poolpilot.optimizer.history({
        optimizationId: args.id === null || args.id === undefined ? null : String(args.id),
        limit: p.through,
      });
      return entries.slice(p.offset);
    },
  }),
);

builder.mutationField('applyOptimization', (t) =>
  t.field({
    type: ApplyResultRef,
    authScopes: { admin: true },
    description:
      'Applies a current suggestion (admin). dryRun: returns exactly what would run and changes nothing. ' +
      'Every attempt is recorded in optimizationHistory. Errors: FORBIDDEN below admin; ' +
      'OPTIMIZATION_NOT_FOUND when no current suggestion has the id (unknown, or its problem is gone: list ' +
      'optimizations again). A statement that fails is no error: outcome FAILED, with error set.',
    args: {
      id: t.arg.id({ required: true, description: 'An id from Query.optimizations.' }),
      dryRun: t.arg.boolean({ defaultValue: false, description: 'Only say what would run; change nothing.' }),
    },
    resolve: (_root, args, ctx) =>
      ctx.poolpilot.optimizer.apply(String(args.id), { dryRun: args.dryRun ?? false, actor: actorOf(ctx) }),
  }),
);

function actorOf(ctx: Context): string {
  return ctx.viewer.authEnabled ? (ctx.viewer.role ?? 'anonymous') : 'admin (no API_TOKENS: loopback only)';
}
