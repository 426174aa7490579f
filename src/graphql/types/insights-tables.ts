import type { PartitionAdvice, TableInsight } from '../../core/insights/index.js';
import { builder } from '../builder.js';

const PartitionAdviceRef = builder.objectRef<PartitionAdvice>('PartitionAdvice').implement({
  fields: (t) => ({
    column: t.exposeString('column', { description: 'Time-like column to range-partition on.' }),
    reason: t.exposeString('reason'),
  }),
});

const TableInsightRef = builder.objectRef<TableInsight>('TableInsight').implement({
  fields: (t) => ({
    schema: t.exposeString('schema'),
    name: t.exposeString('name'),
    partitioned: t.exposeBoolean('partitioned'),
    totalBytes: t.exposeFloat('totalBytes', { description: 'Table + indexes + TOAST.' }),
    tableBytes: t.exposeFloat('tableBytes'),
    indexBytes: t.exposeFloat('indexBytes'),
    estimatedRows: t.exposeFloat('estimatedRows', {
      nullable: true,
      description: "The planner's reltuples.",
    }),
    liveRows: t.exposeFloat('liveRows'),
    deadRows: t.exposeFloat('deadRows'),
    seqScans: t.exposeFloat('seqScans'),
    seqRowsRead: t.exposeFloat('seqRowsRead'),
    indexScans: t.exposeFloat('indexScans'),
    inserted: t.exposeFloat('inserted'),
    updated: t.exposeFloat('updated'),
    deleted: t.exposeFloat('deleted'),
    modifiedSinceAnalyze: t.exposeFloat('modifiedSinceAnalyze'),
    lastAnalyze: t.field({ type: 'DateTime', nullable: true, resolve: (x) => x.lastAnalyze }),
    lastVacuum: t.field({ type: 'DateTime', nullable: true, resolve: (x) => x.lastVacuum }),
    timeColumns: t.exposeStringList('timeColumns'),
    partitionAdvice: t.field({
      type: PartitionAdviceRef,
      nullable: true,
      description: 'Set when large (PARTITION_MIN_ROWS), append-mostly and with a time-like column.',
      resolve: (x) => x.partitionAdvice,
    }),
  }),
});

builder.queryField('tables', (t) =>
  t.field({
    type: [TableInsightRef],
    description: 'Largest tables of the pooled database, with scan and maintenance figures.',
    args: { limit: t.arg.int({ defaultValue: 20 }) },
    resolve: (_root, args, ctx) => ctx.poolpilot.insights.tables(args.limit ?? 20),
  }),
);
