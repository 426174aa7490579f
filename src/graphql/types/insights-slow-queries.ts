import { ErrorCode, PoolpilotError } from '../../core/index.js';
import type { SlowQuery, SlowQueryReport, StatementsExtension } from '../../core/insights/index.js';
import { builder } from '../builder.js';
import { page, pageDescription } from '../paging.js';
import { roundMs, roundPercent, roundRatio } from '../rounding.js';
import { QueryAnalysisRef } from './analysis.js';
import { insightLoaders } from './insights-loaders.js';

/** The most statements the core ranks per call. */
export const SLOW_QUERIES_CAP = 500;

export const SlowQueryOrderEnum = builder.enumType('SlowQueryOrder', {
  description: 'What slowQueries ranks by, largest first.',
  values: {
    TOTAL_TIME: { description: 'Total time of all calls: what costs the server most.' },
    MEAN_TIME: { description: 'Mean time per call: the slowest statements.' },
    MAX_TIME: { description: 'The slowest single call.' },
    CALLS: { description: 'Number of calls: the busiest statements.' },
    ROWS: { description: 'Rows returned or affected, all calls.' },
  } as const,
});

export const SlowQuerySourceEnum = builder.enumType('SlowQuerySource', {
  description: "pg_stat_statements, or poolpilot's own observations of statements sent through it.",
  values: {
    PG_STAT_STATEMENTS: {
      value: 'pg_stat_statements',
      description:
        "The extension: every statement the database ran (this database, poolpilot's own left out).",
    },
    OBSERVATIONS: {
      value: 'observations',
      description: 'The extension is missing: statements sent through poolpilot since start-up only.',
    },
  } as const,
});

type SlowQueryView = SlowQuery & { source: SlowQueryReport['source'] };

const SlowQueryRef = builder.objectRef<SlowQueryView>('SlowQuery').implement({
  description: 'One statement shape, with its figures since statistics were last reset.',
  fields: (t) => ({
    id: t.exposeString('id', { description: 'queryid (pg_stat_statements) or the parser fingerprint.' }),
    query: t.exposeString('query', { description: 'Normalized text: constants as $n.' }),
    calls: t.field({
      type: 'SafeInt',
      description: 'Times it ran (SafeInt: can pass 2^31).',
      resolve: (q) => q.calls,
    }),
    totalMs: t.float({
      description: 'Time of all calls, milliseconds (3 decimals).',
      resolve: (q) => roundMs(q.totalMs),
    }),
    meanMs: t.float({
      description: 'Mean time per call, milliseconds (3 decimals).',
      resolve: (q) => roundMs(q.meanMs),
    }),
    minMs: t.float({
      description: 'Fastest call, milliseconds (3 decimals).',
      resolve: (q) => roundMs(q.minMs),
    }),
    maxMs: t.float({
      description: 'Slowest call, milliseconds (3 decimals).',
      resolve: (q) => roundMs(q.maxMs),
    }),
    stddevMs: t.float({
      nullable: true,
      description: 'Standard deviation of the call times, milliseconds (3 decimals); null when not measured.',
      resolve: (q) => roundMs(q.stddevMs),
    }),
    rows: t.field({
      type: 'SafeInt',
      description: 'Rows returned or affected, all calls (SafeInt: can pass 2^31).',
      resolve: (q) => Math.round(q.rows),
    }),
    rowsPerCall: t.float({
      description: 'rows / calls (2 decimals).',
      resolve: (q) => roundPercent(q.rowsPerCall),
    }),
    sharePercent: t.float({
      description:
        'Share of all statement time in the database, 0..100 (2 decimals). Fields named *Percent are 0..100, ' +
        '*Ratio 0..1.',
      resolve: (q) => roundPercent(q.sharePercent),
    }),
    cacheHitRatio: t.float({
      nullable: true,
      description:
        'Shared-buffer hits / (hits + reads), 0..1 (4 decimals); null when it read no blocks or was not measured.',
      resolve: (q) => roundRatio(q.cacheHitRatio),
    }),
    tempBlocksWritten: t.field({
      type: 'SafeInt',
      nullable: true,
      description: 'Temporary-file blocks (8 kB) written, all calls: sorts or hashes spilling to disk.',
      resolve: (q) => q.tempBlocksWritten,
    }),
    source: t.field({
      type: SlowQuerySourceEnum,
      description: 'Where the figures come from.',
      resolve: (q) => q.source,
    }),
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
  description: 'The state of pg_stat_statements on the primary.',
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
    source: t.field({
      type: SlowQuerySourceEnum,
      description: 'Where slowQueries reads from now.',
      resolve: (s) => s.source,
    }),
    suggestion: t.exposeString('suggestion', {
      nullable: true,
      description: 'What to do for better figures (enable pg_stat_statements); null when nothing.',
    }),
    minCalls: t.exposeInt('minCalls', { description: 'SLOW_QUERY_MIN_CALLS: the default minCalls.' }),
    minMeanMs: t.exposeFloat('minMeanMs', { description: 'SLOW_QUERY_MIN_MEAN_MS: the default minMeanMs.' }),
    since: t.field({
      type: 'DateTime',
      nullable: true,
      description:
        'When the figures were last reset (or poolpilot started, for observations); null if unknown.',
      resolve: (s) => s.since,
    }),
    extension: t.field({
      type: ExtensionRef,
      description: 'Whether pg_stat_statements is available, preloaded and created.',
      resolve: (s) => s.extension,
    }),
  }),
});

const paging = pageDescription(SLOW_QUERIES_CAP);

builder.queryField('slowQueries', (t) =>
  t.field({
    type: [SlowQueryRef],
    description:
      "Statements by time spent, from pg_stat_statements (this database only; poolpilot's own left out), or poolpilot's " +
      'observations when the extension is missing (see queryStatistics). Slow: at least minCalls calls and minMeanMs mean. ' +
      `At most ${SLOW_QUERIES_CAP} are reachable in one order; page with limit and offset. Errors: BAD_USER_INPUT ` +
      'for a limit or offset out of range, or a negative minMeanMs or minCalls.',
    args: {
      limit: t.arg.int({ defaultValue: 20, description: paging.limit }),
      offset: t.arg.int({ defaultValue: 0, description: paging.offset }),
      orderBy: t.arg({
        type: SlowQueryOrderEnum,
        defaultValue: 'TOTAL_TIME',
        description: 'The ranking, largest first.',
      }),
      minMeanMs: t.arg.float({
        description:
          'Leave out statements with a lower mean, milliseconds, 0 or more (default SLOW_QUERY_MIN_MEAN_MS, 20).',
      }),
      minCalls: t.arg.int({
        description: 'Leave out statements with fewer calls, 0 or more (default SLOW_QUERY_MIN_CALLS, 100).',
      }),
    },
    resolve: async (_root, args, ctx) => {
      const p = page('slowQueries', args.limit ?? 20, args.offset ?? 0, SLOW_QUERIES_CAP);
      for (const name of ['minMeanMs', 'minCalls'] as const) {
        const value = args[name];
        if (value !== null && value !== undefined && !(value >= 0)) {
          throw new PoolpilotError(
            ErrorCode.BadUserInput,
            `slowQueries: ${name} must be 0 or more; got ${value}`,
          );
        }
      }
      const report = await ctx.poolpilot.insights.slowQueries.list({
        limit: p.through,
        orderBy: args.orderBy ?? 'TOTAL_TIME',
        minMeanMs: args.minMeanMs ?? undefined,
        minCalls: args.minCalls ?? undefined,
      });
      return report.queries.slice(p.offset).map((q) => ({ ...q, source: report.source }));
    },
  }),
);

builder.queryField('queryStatistics', (t) =>
  t.field({
    type: QueryStatisticsRef,
    description: 'Where slowQueries gets its figures (pg_stat_statements or observations) and its defaults.',
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
    description: 'What resetQueryStatistics cleared.',
    fields: (t) => ({
      sources: t.field({
        type: [SlowQuerySourceEnum],
        description: 'The figures cleared: pg_stat_statements (when readable) and the observations.',
        resolve: (r) => r.source,
      }),
      resetAt: t.field({
        type: 'DateTime',
        description: 'When they were cleared.',
        resolve: (r) => r.resetAt,
      }),
    }),
  });

builder.mutationField('resetQueryStatistics', (t) =>
  t.field({
    type: ResetRef,
    authScopes: { admin: true },
    description:
      "Clears this database's pg_stat_statements entries and poolpilot's own observations. Admin role " +
      '(FORBIDDEN below).',
    resolve: (_root, _args, ctx) => ctx.poolpilot.insights.slowQueries.reset(),
  }),
);
