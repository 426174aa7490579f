import type { Analysis, PlanSummary, ScoreFactor, SeqScan } from '../../core/analyzer/index.js';
import { builder } from '../builder.js';
import { roundPercent } from '../rounding.js';
import { PoolStatsRef, poolStatsView } from './pool-stats.js';

export const SeverityEnum = builder.enumType('Severity', {
  description: 'How heavy a statement is: its complexity (0..100) in four bands.',
  values: {
    LOW: { description: 'complexity below 25.' },
    MEDIUM: { description: 'complexity 25..49.' },
    HIGH: { description: 'complexity 50..74.' },
    CRITICAL: { description: 'complexity 75 or more.' },
  } as const,
});

export const RouteClassEnum = builder.enumType('RouteClass', {
  description:
    'FAST → primary, MEDIUM → a read replica, COMPLEX → the complex-query queue. Anything that can write or ' +
    'lock runs on the primary whatever its class.',
  values: {
    FAST: { description: 'complexity below ROUTE_MEDIUM_THRESHOLD (default 20): the primary.' },
    MEDIUM: {
      description:
        'complexity from ROUTE_MEDIUM_THRESHOLD to below ROUTE_COMPLEX_THRESHOLD (default 50): a healthy ' +
        'read replica within DB_REPLICA_MAX_LAG_MS, else the primary.',
    },
    COMPLEX: {
      description:
        'complexity ROUTE_COMPLEX_THRESHOLD or more: waits for a slot in the complex-query queue ' +
        '(COMPLEX_QUEUE_CONCURRENCY), then runs like MEDIUM.',
    },
  } as const,
});

const AnalysisBasisEnum = builder.enumType('AnalysisBasis', {
  description: 'What the data part of the complexity score (0..40) was computed from.',
  values: {
    PLANNER: { value: 'planner', description: "The primary's planner estimate (EXPLAIN, never executed)." },
    TABLE_SIZES: {
      value: 'table sizes',
      description: 'The planner could not answer; the sizes of the tables named (pg_class.reltuples).',
    },
    PARSE_ONLY: { value: 'parse only', description: 'Only the parse tree: no data figures were available.' },
  } as const,
});

const ScoreFactorRef = builder.objectRef<ScoreFactor>('ScoreFactor').implement({
  description: 'One term of the complexity score.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The feature scored, e.g. joins or seqScanLargeTable.' }),
    points: t.float({
      description: 'Points it adds to the complexity (0..100 in all), 2 decimals.',
      resolve: (f) => roundPercent(f.points),
    }),
    detail: t.exposeString('detail', { description: 'The figures behind the points, in words.' }),
  }),
});

const SeqScanRef = builder.objectRef<SeqScan>('SequentialScan').implement({
  description: 'A sequential scan in the plan: a whole relation read, row by row.',
  fields: (t) => ({
    relation: t.string({
      description: 'The relation scanned, schema-qualified when not in search_path.',
      resolve: (s) => s.relation.replace(/"/g, ''),
    }),
    rows: t.float({
      description: 'Estimated rows of the relation (an integer; Float because it can pass 2^31).',
      resolve: (s) => Math.round(s.rows),
    }),
    filter: t.exposeString('filter', {
      nullable: true,
      description: 'The scan filter, as EXPLAIN shows it.',
    }),
    column: t.exposeString('column', {
      nullable: true,
      description: 'The column filtered on: an index candidate.',
    }),
  }),
});

const WriteStatusEnum = builder.enumType('WriteStatus', {
  description: 'What the parse says a statement does to data.',
  values: {
    READS: { description: 'Only reads: may go to a replica by its complexity.' },
    WRITES: { description: 'Writes or locks: the primary.' },
    UNKNOWN: { description: 'Did not parse: the primary, which reports the error.' },
  } as const,
});

const PlanRef = builder.objectRef<PlanSummary>('PlanSummary').implement({
  description: "The primary's planner estimate (EXPLAIN, never executed).",
  fields: (t) => ({
    totalCost: t.exposeFloat('totalCost', {
      description: 'Planner cost units (seq_page_cost = 1) to finish.',
    }),
    startupCost: t.exposeFloat('startupCost', { description: 'Planner cost units before the first row.' }),
    estimatedRows: t.float({
      description: 'Rows the planner expects the statement to return (an integer; may pass 2^31).',
      resolve: (p) => Math.round(p.estimatedRows),
    }),
    seqScans: t.field({
      type: [SeqScanRef],
      description: 'Sequential scans in the plan, largest relation first.',
      resolve: (p) => p.seqScans,
    }),
    nodes: t.exposeStringList('nodes', { description: 'Plan node types, outermost first.' }),
    indexesUsed: t.exposeStringList('indexesUsed', { description: 'Indexes the plan reads.' }),
  }),
});

const ParseErrorRef = builder
  .objectRef<{ message: string; position: number | null }>('SqlParseError')
  .implement({
    description: "PostgreSQL's parser refused the text; executeQuery would fail with BAD_SQL.",
    fields: (t) => ({
      message: t.exposeString('message', { description: "The parser's message." }),
      position: t.exposeInt('position', { nullable: true, description: '1-based character position.' }),
    }),
  });

/** What the analyzer concluded about one statement. */
export const QueryAnalysisRef = builder.objectRef<Analysis>('QueryAnalysis').implement({
  description: 'What the analyzer concluded about one statement, and where it would run.',
  fields: (t) => ({
    fingerprint: t.exposeString('fingerprint', { description: 'One per query shape (constants ignored).' }),
    normalized: t.exposeString('normalized', { description: 'The statement with constants as $n.' }),
    complexity: t.exposeInt('complexity', { description: '0..100: structure (0..60) + data (0..40).' }),
    severity: t.field({
      type: SeverityEnum,
      description: 'The complexity in words.',
      resolve: (a) => a.severity,
    }),
    route: t.field({
      type: RouteClassEnum,
      description: 'The class the complexity falls in (a write still runs on the primary).',
      resolve: (a) => a.route,
    }),
    recommendation: t.string({
      nullable: true,
      description: 'The most useful recommendation (the first of recommendations); null when none.',
      resolve: (a) => a.recommendations[0] ?? null,
    }),
    recommendations: t.exposeStringList('recommendations', {
      description: 'What would make it cheaper, most useful first.',
    }),
    factors: t.field({
      type: [ScoreFactorRef],
      description: 'The terms the complexity is made of.',
      resolve: (a) => a.factors,
    }),
    features: t.field({
      type: 'JSON',
      description: 'Everything read from the parse tree (joins, subqueries, aggregates, ...), as an object.',
      resolve: (a) => a.features,
    }),
    statementKinds: t.stringList({
      description: 'Statement types in the text, e.g. SelectStmt, InsertStmt (libpg_query names).',
      resolve: (a) => a.features.statements,
    }),
    tables: t.exposeStringList('tables', { description: 'Relations the statement names.' }),
    tableRows: t.field({
      type: 'JSON',
      nullable: true,
      description: 'Estimated rows per relation named ({"public.orders": 120000}); null when not looked up.',
      resolve: (a) => a.tableRows,
    }),
    judged: t.exposeBoolean('judged', {
      description:
        'False when the statement could not be judged (nested too deep to parse safely, or the parser failed on it): executeQuery refuses it.',
    }),
    writes: t.boolean({
      description:
        'Can write or lock, or unknown (did not parse): always runs on the primary. See writeStatus for which.',
      resolve: (a) => a.writes !== false,
    }),
    writeStatus: t.field({
      type: WriteStatusEnum,
      description: 'READS, WRITES (or locks), or UNKNOWN when the statement did not parse.',
      resolve: (a) => (a.writes === null ? 'UNKNOWN' : a.writes ? 'WRITES' : 'READS'),
    }),
    writeReasons: t.exposeStringList('writeReasons', {
      description:
        'Why it counts as writing (INSERT, FOR UPDATE, a volatile function, ...); empty for reads.',
    }),
    forcedPrimary: t.exposeBoolean('forcedPrimary', { description: 'Carries /* poolpilot:primary */.' }),
    planned: t.exposeBoolean('planned', { description: 'The planner was consulted and answered.' }),
    plan: t.field({
      type: PlanRef,
      nullable: true,
      description: 'The planner estimate; null when it was not asked or did not answer (see planError).',
      resolve: (a) => a.plan,
    }),
    planError: t.exposeString('planError', {
      nullable: true,
      description: "Why the planner did not answer (its message); null when it did or wasn't asked.",
    }),
    basedOn: t.field({
      type: AnalysisBasisEnum,
      description: 'What the data part of the score was computed from.',
      resolve: (a) => a.basis,
    }),
    basis: t.string({
      description: 'planner, table sizes or parse only.',
      deprecationReason: 'Use basedOn, the same as an enum.',
      resolve: (a) => a.basis,
    }),
    note: t.exposeString('note', {
      nullable: true,
      description: 'Anything the reader should know about this analysis (a limit hit, a guess made).',
    }),
    parseError: t.field({
      type: ParseErrorRef,
      nullable: true,
      description: 'Set when PostgreSQL cannot parse the text; the other figures are then empty.',
      resolve: (a) => a.parseError,
    }),
    cached: t.exposeBoolean('cached', {
      description: 'Served from the analysis cache (ANALYZER_CACHE_SIZE, ANALYZER_CACHE_TTL_MS).',
    }),
    analyzedAt: t.field({
      type: 'DateTime',
      description: 'When this analysis was computed (earlier than now when cached).',
      resolve: (a) => a.analyzedAt,
    }),
    wouldRunOn: t.string({
      description: 'Where executeQuery would send it now (target name), with the current health and lag.',
      resolve: (a, _args, ctx) => ctx.poolpilot.router.decide(a).target,
    }),
    routingReason: t.string({
      description: 'Why it would run there, in words (e.g. writes → primary, replica lagging).',
      resolve: (a, _args, ctx) => ctx.poolpilot.router.decide(a).reason,
    }),
    poolStats: t.field({
      type: PoolStatsRef,
      description: 'The pools at the time of the answer, as Query.poolStats.',
      resolve: (_a, _args, ctx) => poolStatsView(ctx.poolpilot.poolState()),
    }),
  }),
});

builder.mutationField('analyzeQuery', (t) =>
  t.field({
    type: QueryAnalysisRef,
    description:
      "Scores a statement without running it: PostgreSQL's parser plus the primary's planner (EXPLAIN). " +
      'A mutation because it consults the database; it changes nothing. Viewer role. Errors: BAD_USER_INPUT ' +
      'when sql is empty or longer than MAX_SQL_BYTES; unparsable SQL is no error (see parseError).',
    args: {
      sql: t.arg.string({
        required: true,
        description: 'One or more SQL statements, at most MAX_SQL_BYTES bytes (UTF-8).',
      }),
    },
    resolve: (_root, args, ctx) => ctx.poolpilot.analyzer.analyze(args.sql),
  }),
);
