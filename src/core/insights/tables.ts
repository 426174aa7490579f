import type { Pool } from '../pool/index.js';
import { numberOrNull } from './connections.js';
import { LARGEST_TABLES } from './sql.js';

export interface PartitionAdvice {
  /** The time-like column to partition by range on. */
  column: string;
  reason: string;
}

export interface TableInsight {
  schema: string;
  name: string;
  partitioned: boolean;
  totalBytes: number;
  tableBytes: number;
  indexBytes: number;
  /** The planner's row count (pg_class.reltuples), as of the last ANALYZE/VACUUM; null if never. */
  estimatedRows: number | null;
  liveRows: number;
  deadRows: number;
  seqScans: number;
  seqRowsRead: number;
  indexScans: number;
  inserted: number;
  updated: number;
  deleted: number;
  modifiedSinceAnalyze: number;
  lastAnalyze: Date | null;
  lastVacuum: Date | null;
  timeColumns: string[];
  partitionAdvice: PartitionAdvice | null;
}

export interface TableThresholds {
  /** Fewer live rows than this is never a partition candidate. */
  partitionMinRows: number;
}

// Updates + deletes below this share of inserts: the table mostly grows at its end.
const APPEND_MOSTLY = 0.1;

export async function largestTables(
  pool: Pool,
  limit: number,
  thresholds: TableThresholds,
): Promise<TableInsight[]> {
  const { rows } = await pool.query(LARGEST_TABLES, [Math.max(1, Math.min(limit, 500))]);
  return rows.map((r) => {
    const lastAnalyze = latest(r.last_analyze as Date | null, r.last_autoanalyze as Date | null);
    const table: TableInsight = {
      schema: r.schema as string,
      name: r.name as string,
      partitioned: r.partitioned as boolean,
      totalBytes: Number(r.total_bytes),
      tableBytes: Number(r.table_bytes),
      indexBytes: Number(r.index_bytes),
      estimatedRows: Number(r.estimated_rows) < 0 ? null : Number(r.estimated_rows),
      liveRows: Number(r.live_rows ?? 0),
      deadRows: Number(r.dead_rows ?? 0),
      seqScans: Number(r.seq_scan ?? 0),
      seqRowsRead: Number(r.seq_tup_read ?? 0),
      indexScans: numberOrNull(r.idx_scan) ?? 0,
      inserted: Number(r.inserted ?? 0),
      updated: Number(r.updated ?? 0),
      deleted: Number(r.deleted ?? 0),
      modifiedSinceAnalyze: Number(r.modified_since_analyze ?? 0),
      lastAnalyze,
      lastVacuum: latest(r.last_vacuum as Date | null, r.last_autovacuum as Date | null),
      timeColumns: r.time_columns as string[],
      partitionAdvice: null,
    };
    table.partitionAdvice = partitionAdvice(table, thresholds);
    return table;
  });
}

/** The guide's "large tables for partitioning": large, append-mostly, with a time-like column. */
export function partitionAdvice(t: TableInsight, thresholds: TableThresholds): PartitionAdvice | null {
  if (t.partitioned || t.liveRows < thresholds.partitionMinRows) return null;
  const column = pickTimeColumn(t.timeColumns);
  if (!column || t.inserted === 0) return null;
  const churn = (t.updated + t.deleted) / t.inserted;
  if (churn >= APPEND_MOSTLY) return null;
  return {
    column,
    reason:
      `${t.liveRows.toLocaleString('en-US')} live rows (${formatBytes(t.totalBytes)}), ` +
      `${t.inserted.toLocaleString('en-US')} inserted vs ${(t.updated + t.deleted).toLocaleString('en-US')} ` +
      `updated or deleted (${(churn * 100).toFixed(1)}%): append-mostly, so range partitions on ${column} ` +
      'let old data be detached or dropped instead of deleted, and keep recent partitions and their indexes small.',
  };
}

function pickTimeColumn(columns: string[]): string | null {
  const preferred = columns.find((c) => /(created|inserted|logged|event|occurred|recorded)/i.test(c));
  return preferred ?? columns[0] ?? null;
}

function latest(a: Date | null, b: Date | null): Date | null {
  if (!a) return b;
  if (!b) return a;
  return a > b ? a : b;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
