import type { SlowQuery, SlowQueryReport, StatementsExtension } from '../../core/insights/index.js';
import { builder } from '../builder.js';
import { QueryAnalysisRef } from './analysis.js';
import { insightLoaders } from './insights-loaders.js';

export const SlowQueryOrderEnum = builder.enumType('SlowQueryOrder', {
  values: ['TOTAL_TIME', 'MEAN_TIME', 'MAX_TIME', 'CALLS', 'ROWS'] as const,
});

export const SlowQuerySourceEnum = builder.enumType('SlowQuerySource', {
  description: "pg_stat_statements, or poolpilot's own observations of statements sent through it.",
  values: {
    PG_STAT_STATEMENTS: { value: 'pg_stat_statements' },
    OBSERVATIONS: { value: 'observations' },
  } as const,
});

type SlowQueryView = SlowQuery & { source: SlowQueryReport['source'] };

const SlowQueryRef = builder.objectRef<SlowQueryView>('SlowQuery').implement({
  description: 'One statement shape, with its figures since statistics were last reset.',
  fields: (t) => ({
    id: t.exposeString('id', { description: 'queryid (pg_stat_statements) or the parser fingerprint.' }),
    query: t.exposeString('query', { description: 'Normalized text: constants as $n.' }),
    calls: t.exposeInt('calls'),
    totalMs: t.exposeFloat('totalMs'),
    meanMs: t.exposeFloat('meanMs'),
    minMs: t.exposeFloat('minMs'),
    maxMs: t.exposeFloat('maxMs'),
    stddevMs: t.exposeFloat('stddevMs', { nullable: true }),
    rows: t.exposeFloat('rows', { description: 'Rows returned or affected, all calls.' }),
    rowsPerCall: t.exposeFloat('rowsPerCall'),
    sharePercent: t.exposeFloat('sharePercent', {
      description: 'Share of all statement time in the database, 0..100.',
    }),
    cacheHitRatio: t.exposeFloat('cacheHitRatio', {
      nullable: true,
      description: 'Shared-buffer hits / (hits + reads), 0..1.',
    }),
    tempBlocksWritten: t.exposeFloat('tempBlocksWritten', { nullable: true }),
    source: t.field({ type: SlowQuerySourceEnum, resolve: (q) => q.source }),
    analysis: t.field({
      type: QueryAnalysisRef,
      nullable: true,
      description: 'Complexity, route and recommendations; one batch per page (DataLoader).',
      resolve: async (q, _args, ctx) => {
        const result = await insightLoaders(ctx)
          .analysis.load(q.query)
          .catch(() => null);
        return result;
      },
    }),
  }),
});

const ExtensionRef = builder.objectRef<StatementsExtension>('StatementsExtension').implement({
  fields: (t) => ({
    schema: t.exposeString('schema', {
      nullable: true,
      description: 'Created in this database, in this schema.',
    }),
    preloaded: t.exposeBoolean('preloaded', { description: 'In shared_preload_libraries.' }),
    available: t.exposeBoolean('available', { description: 'Installed on the server.' }),
  }),
});

type StatusView = Omit<SlowQueryReport, 'queries'> & { extension: StatementsExtension };

const QueryStatisticsRef = builder.objectRef<StatusView>('QueryStatistics').implement({
  description: 'Where slowQueries gets its figures, and what counts as slow.',
  fields: (t) => ({
    source: t.field({ type: SlowQuerySourceEnum, resolve: (s) => s.source }),
    suggestion: t.exposeString('suggestion', { nullable: true }),
    minCalls: t.exposeInt('minCalls', { description: 'SLOW_QUERY_MIN_CALLS' }),
    minMeanMs: t.exposeFloat('minMeanMs', { description: 'SLOW_QUERY_MIN_MEAN_MS' }),
    since: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.since }),
    extension: t.field({ type: ExtensionRef, resolve: (s) => s.extension }),
  }),
});

builder.queryField('slowQueries', (t) =>
  t.field({
    type: [SlowQueryRef],
    description:
      "Statements by time spent, from pg_stat_statements (this database only; poolpilot's own left out), or poolpilot's " +
      'observations when the extension is missing (see queryStatistics). Slow: at least minCalls calls and minMeanMs mean.',
    args: {
      limit: t.arg.int({ defaultValue: 20 }),
      orderBy: t.arg({ type: SlowQueryOrderEnum, defaultValue: 'TOTAL_TIME' }),
      minMeanMs: t.arg.float({ description: 'Default SLOW_QUERY_MIN_MEAN_MS (20).' }),
      minCalls: t.arg.int({ description: 'Default SLOW_QUERY_MIN_CALLS (100).' }),
    },
    resolve: async (_root, args, ctx) => {
      const report = await ctx.poolpilot.insights.slowQueries.list({
        limit: args.limit ?? 20,
        orderBy: args.orderBy ?? 'TOTAL_TIME',
        minMeanMs: args.minMeanMs ?? undefined,
        minCalls: args.minCalls ?? undefined,
      });
      return report.queries.map((q) => ({ ...q, source: report.source }));
    },
  }),
);

builder.queryField('queryStatistics', (t) =>
  t.field({
    type: QueryStatisticsRef,
    resolve: async (_root, _args, ctx) => {
      const slow = ctx.poolpilot.insights.slowQueries;
      const [report, extension] = await Promise.all([slow.list({ limit: 1 }), slow.extension()]);
      const { queries: _queries, ...status } = report;
      return { ...status, extension };
    },
  }),
);

const ResetRef = builder
  .objectRef<{ source: SlowQueryReport['source'][]; resetAt: Date }>('QueryStatisticsReset')
  .implement({
    fields: (t) => ({
      sources: t.field({ type: [SlowQuerySourceEnum], resolve: (r) => r.source }),
      resetAt: t.field({ type: 'DateTime', resolve: (r) => r.resetAt }),
    }),
  });

builder.mutationField('resetQueryStatistics', (t) =>
  t.field({
    type: ResetRef,
    authScopes: { admin: true },
    description:
      "Clears this database's pg_stat_statements entries and poolpilot's own observations (admin).",
    resolve: (_root, _args, ctx) => ctx.poolpilot.insights.slowQueries.reset(),
  }),
);
