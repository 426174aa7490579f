import type { Analysis, PlanSummary, ScoreFactor, SeqScan } from '../../core/analyzer/index.js';
import { builder } from '../builder.js';
import { PoolStatsRef, poolStatsView } from './pool-stats.js';

export const SeverityEnum = builder.enumType('Severity', {
  values: ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const,
});

export const RouteClassEnum = builder.enumType('RouteClass', {
  description: 'FAST → primary, MEDIUM → a read replica, COMPLEX → the complex-query queue.',
  values: ['FAST', 'MEDIUM', 'COMPLEX'] as const,
});

const ScoreFactorRef = builder.objectRef<ScoreFactor>('ScoreFactor').implement({
  description: 'One term of the complexity score.',
  fields: (t) => ({
    name: t.exposeString('name'),
    points: t.exposeFloat('points'),
    detail: t.exposeString('detail'),
  }),
});

const SeqScanRef = builder.objectRef<SeqScan>('SequentialScan').implement({
  fields: (t) => ({
    relation: t.string({ resolve: (s) => s.relation.replace(/"/g, '') }),
    rows: t.exposeFloat('rows', { description: 'Estimated rows of the relation.' }),
    filter: t.exposeString('filter', { nullable: true }),
    column: t.exposeString('column', {
      nullable: true,
      description: 'The column filtered on: an index candidate.',
    }),
  }),
});

const PlanRef = builder.objectRef<PlanSummary>('PlanSummary').implement({
  description: "The primary's planner estimate (EXPLAIN, never executed).",
  fields: (t) => ({
    totalCost: t.exposeFloat('totalCost'),
    startupCost: t.exposeFloat('startupCost'),
    estimatedRows: t.exposeFloat('estimatedRows'),
    seqScans: t.field({ type: [SeqScanRef], resolve: (p) => p.seqScans }),
    nodes: t.exposeStringList('nodes', { description: 'Plan node types, outermost first.' }),
    indexesUsed: t.exposeStringList('indexesUsed', { description: 'Indexes the plan reads.' }),
  }),
});

const ParseErrorRef = builder
  .objectRef<{ message: string; position: number | null }>('SqlParseError')
  .implement({
    fields: (t) => ({
      message: t.exposeString('message'),
      position: t.exposeInt('position', { nullable: true, description: '1-based character position.' }),
    }),
  });

/** What the analyzer concluded about one statement. */
export const QueryAnalysisRef = builder.objectRef<Analysis>('QueryAnalysis').implement({
  fields: (t) => ({
    fingerprint: t.exposeString('fingerprint', { description: 'One per query shape (constants ignored).' }),
    normalized: t.exposeString('normalized', { description: 'The statement with constants as $n.' }),
    complexity: t.exposeInt('complexity', { description: '0..100: structure (0..60) + data (0..40).' }),
    severity: t.field({ type: SeverityEnum, resolve: (a) => a.severity }),
    route: t.field({ type: RouteClassEnum, resolve: (a) => a.route }),
    recommendation: t.string({
      nullable: true,
      description: 'The most useful recommendation.',
      resolve: (a) => a.recommendations[0] ?? null,
    }),
    recommendations: t.exposeStringList('recommendations'),
    factors: t.field({
      type: [ScoreFactorRef],
      description: 'The terms the complexity is made of.',
      resolve: (a) => a.factors,
    }),
    features: t.field({
      type: 'JSON',
      description: 'Everything read from the parse tree.',
      resolve: (a) => a.features,
    }),
    statementKinds: t.stringList({ resolve: (a) => a.features.statements }),
    tables: t.exposeStringList('tables'),
    tableRows: t.field({ type: 'JSON', nullable: true, resolve: (a) => a.tableRows }),
    judged: t.exposeBoolean('judged', {
      description:
        'False when the statement could not be judged (nested too deep to parse safely, or the parser failed on it): executeQuery refuses it.',
    }),
    writes: t.exposeBoolean('writes', {
      nullable: true,
      description:
        'Can write or lock: always runs on the primary. Null when unknown (did not parse): the primary.',
    }),
    writeReasons: t.exposeStringList('writeReasons'),
    forcedPrimary: t.exposeBoolean('forcedPrimary', { description: 'Carries /* poolpilot:primary */.' }),
    planned: t.exposeBoolean('planned', { description: 'The planner was consulted and answered.' }),
    plan: t.field({ type: PlanRef, nullable: true, resolve: (a) => a.plan }),
    planError: t.exposeString('planError', { nullable: true }),
    basis: t.string({ description: 'planner, table sizes or parse only.', resolve: (a) => a.basis }),
    note: t.exposeString('note', { nullable: true }),
    parseError: t.field({ type: ParseErrorRef, nullable: true, resolve: (a) => a.parseError }),
    cached: t.exposeBoolean('cached'),
    analyzedAt: t.field({ type: 'DateTime', resolve: (a) => a.analyzedAt }),
    wouldRunOn: t.string({
      description: 'Where executeQuery would send it now (target name), with the current health and lag.',
      resolve: (a, _args, ctx) => ctx.poolpilot.router.decide(a).target,
    }),
    routingReason: t.string({ resolve: (a, _args, ctx) => ctx.poolpilot.router.decide(a).reason }),
    poolStats: t.field({
      type: PoolStatsRef,
      resolve: (_a, _args, ctx) => poolStatsView(ctx.poolpilot.poolState()),
    }),
  }),
});

builder.mutationField('analyzeQuery', (t) =>
  t.field({
    type: QueryAnalysisRef,
    description:
      "Scores a statement without running it: PostgreSQL's parser plus the primary's planner (EXPLAIN). " +
      'A mutation because it consults the database; it changes nothing.',
    args: { sql: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => ctx.poolpilot.analyzer.analyze(args.sql),
  }),
);
