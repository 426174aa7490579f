import { formatBytes, type TableInsight } from '../insights/index.js';
import type { Pool } from '../pool/index.js';
import { STALE_STATISTICS } from './sql.js';
import { type Optimization, OptimizationKind, optimizationId, quoteIdent, round } from './types.js';

// Autovacuum's own defaults: analyze after 10% of the rows changed; tiny tables do not matter.
const STALE_SHARE = 0.1;
const MIN_ROWS = 1_000;

/** ANALYZE_TABLE for tables never analyzed, or changed by more than 10% since their last ANALYZE. */
export async function analyzeTables(pool: Pool): Promise<Optimization[]> {
  const { rows } = await pool.query(STALE_STATISTICS, [MIN_ROWS, STALE_SHARE]);
  return rows.map((r) => {
    const name = `${quoteIdent(r.schema as string)}.${quoteIdent(r.name as string)}`;
    const live = Number(r.live_rows);
    const estimated = Number(r.estimated_rows);
    const modified = Number(r.modified);
    const last = r.last_analyzed as Date | null;
    const planner =
      estimated < 0
        ? 'has no row estimate at all (never analyzed or vacuumed)'
        : `estimates ${Math.round(estimated)} rows`;
    return {
      id: optimizationId(OptimizationKind.AnalyzeTable, `${r.schema}.${r.name}`),
      kind: OptimizationKind.AnalyzeTable,
      title: `ANALYZE ${r.schema}.${r.name}`,
      rationale:
        `${r.schema}.${r.name} has ${live} live rows and ${modified} rows changed since its last ANALYZE ` +
        `(${last ? `at ${last.toISOString()}` : 'never'}; ${round((100 * modified) / Math.max(live, 1))}% of the table). ` +
        `The planner ${planner}, and has no up-to-date pg_stats to judge selectivity, so it can pick the wrong plan.`,
      risk: 'LOW',
      statements: [`ANALYZE ${name}`],
      actionSummary:
        'Samples the table and refreshes pg_stats; reads only, takes a lock that does not block reads or writes.',
      applicable: true,
      requiresRestart: false,
      evidence: {
        liveRows: live,
        estimatedRows: estimated < 0 ? null : estimated,
        modifiedSinceAnalyze: modified,
        lastAnalyzed: last,
      },
      action: {
        type: 'sql',
        statements: [`ANALYZE ${name}`],
        analyzes: { schema: r.schema as string, table: r.name as string },
      },
    } satisfies Optimization;
  });
}

export function partitionTables(tables: TableInsight[]): Optimization[] {
  return tables.flatMap((t) => {
    if (!t.partitionAdvice) return [];
    const col = t.partitionAdvice.column;
    const outline = [
      `-- Outline for ${t.schema}.${t.name}; review before running, nothing is applied by poolpilot.`,
      `CREATE TABLE ${quoteIdent(t.schema)}.${quoteIdent(`${t.name}_partitioned`)} (LIKE ${quoteIdent(t.schema)}.${quoteIdent(t.name)} INCLUDING ALL) PARTITION BY RANGE (${quoteIdent(col)});`,
      `-- one partition per month (or week) of ${col}, e.g.:`,
      `-- CREATE TABLE ${t.name}_2026_01 PARTITION OF ${t.name}_partitioned FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');`,
      '-- copy the rows in batches, then swap the names in one transaction.',
    ].join('\n');
    return [
      {
        id: optimizationId(OptimizationKind.PartitionTable, `${t.schema}.${t.name}`),
        kind: OptimizationKind.PartitionTable,
        title: `Partition ${t.schema}.${t.name} by range on ${col}`,
        rationale: t.partitionAdvice.reason,
        risk: 'HIGH',
        statements: [outline],
        actionSummary: 'Advice only: partitioning rewrites the table and its callers; nothing is applied.',
        applicable: false,
        requiresRestart: false,
        evidence: {
          liveRows: t.liveRows,
          size: formatBytes(t.totalBytes),
          totalBytes: t.totalBytes,
          inserted: t.inserted,
          updated: t.updated,
          deleted: t.deleted,
          timeColumns: t.timeColumns,
        },
        action: { type: 'advice' },
      } satisfies Optimization,
    ];
  });
}
