import type { PartitionAdvice, TableInsight } from '../../core/insights/index.js';
import { builder } from '../builder.js';
import { page, pageDescription } from '../paging.js';

/** The largest tables the core lists at most. */
export const TABLES_CAP = 500;

const PartitionAdviceRef = builder.objectRef<PartitionAdvice>('PartitionAdvice').implement({
  description: 'Why and on what column a table could be range-partitioned (advice only: nothing is applied).',
  fields: (t) => ({
    column: t.exposeString('column', { description: 'Time-like column to range-partition on.' }),
    reason: t.exposeString('reason', { description: 'The figures behind the advice, in words.' }),
  }),
});

const count = (description: string, pick: (x: TableInsight) => number) =>
  ({ type: 'SafeInt', description, resolve: (x: TableInsight) => Math.round(pick(x)) }) as const;

const TableInsightRef = builder.objectRef<TableInsight>('TableInsight').implement({
  description:
    'A table of the pooled database with its size (pg_total_relation_size) and activity (pg_stat_user_tables, ' +
    'counted since statistics were last reset). Counts and bytes are SafeInt: they can pass 2^31.',
  fields: (t) => ({
    schema: t.exposeString('schema', { description: 'The schema (namespace).' }),
    name: t.exposeString('name', { description: 'The table name.' }),
    partitioned: t.exposeBoolean('partitioned', {
      description: 'A partitioned table (figures of its partitions).',
    }),
    totalBytes: t.field(count('Table + indexes + TOAST, bytes.', (x) => x.totalBytes)),
    tableBytes: t.field(count('The table itself (main fork), bytes.', (x) => x.tableBytes)),
    indexBytes: t.field(count('All its indexes, bytes.', (x) => x.indexBytes)),
    estimatedRows: t.float({
      nullable: true,
      description:
        "The planner's reltuples, as of the last ANALYZE/VACUUM; null if never (Float: may pass 2^31).",
      resolve: (x) => (x.estimatedRows === null ? null : Math.round(x.estimatedRows)),
    }),
    liveRows: t.field(count('n_live_tup: estimated live rows.', (x) => x.liveRows)),
    deadRows: t.field(count('n_dead_tup: rows VACUUM has yet to reclaim.', (x) => x.deadRows)),
    seqScans: t.field(count('seq_scan: sequential scans started.', (x) => x.seqScans)),
    seqRowsRead: t.field(count('seq_tup_read: rows read by sequential scans.', (x) => x.seqRowsRead)),
    indexScans: t.field(count('idx_scan: index scans started.', (x) => x.indexScans)),
    inserted: t.field(count('n_tup_ins: rows inserted.', (x) => x.inserted)),
    updated: t.field(count('n_tup_upd: rows updated.', (x) => x.updated)),
    deleted: t.field(count('n_tup_del: rows deleted.', (x) => x.deleted)),
    modifiedSinceAnalyze: t.field(
      count('n_mod_since_analyze: rows changed since the last ANALYZE.', (x) => x.modifiedSinceAnalyze),
    ),
    lastAnalyze: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'The last ANALYZE or autoanalyze; null if never.',
      resolve: (x) => x.lastAnalyze,
    }),
    lastVacuum: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'The last VACUUM or autovacuum; null if never.',
      resolve: (x) => x.lastVacuum,
    }),
    timeColumns: t.exposeStringList('timeColumns', {
      description: 'Columns of a date/time type: partition keys to consider.',
    }),
    partitionAdvice: t.field({
      type: PartitionAdviceRef,
      nullable: true,
      description: 'Set when large (PARTITION_MIN_ROWS), append-mostly and with a time-like column.',
      resolve: (x) => x.partitionAdvice,
    }),
  }),
});

const paging = pageDescription(TABLES_CAP);

builder.queryField('tables', (t) =>
  t.field({
    type: [TableInsightRef],
    description:
      `Largest tables of the pooled database first (total bytes), with scan and maintenance figures. ` +
      `At most ${TABLES_CAP} are reachable; page with limit and offset. Errors: BAD_USER_INPUT for a limit ` +
      'or offset out of range.',
    args: {
      limit: t.arg.int({ defaultValue: 20, description: paging.limit }),
      offset: t.arg.int({ defaultValue: 0, description: paging.offset }),
    },
    resolve: async (_root, args, ctx) => {
      const p = page('tables', args.limit ?? 20, args.offset ?? 0, TABLES_CAP);
      return (await ctx.poolpilot.insights.tables(p.through)).slice(p.offset);
    },
  }),
);
