import type { SlowQuery } from '../insights/index.js';
import type { Pool } from '../pool/index.js';
import { type ColumnUse, filterColumns } from './columns.js';
import { explain, type PlanSummary } from './plan.js';
import { HYPOPG_CREATE, HYPOPG_INSTALLED, HYPOPG_RESET, TABLE_COLUMNS, TABLE_INDEXES } from './sql.js';
import { type Optimization, OptimizationKind, optimizationId, quoteIdent, round } from './types.js';

/**
 * CREATE_INDEX suggestions, after Dexter: for each slow statement, the columns it filters and
 * joins on (parsed), on tables its plan reads with a sequential scan, selective enough by
 * pg_stats, not already covered by an index; with HypoPG, only if the planner's cost with a
 * hypothetical index at least halves.
 */

// Tables smaller than this are read faster whole than through an index.
const MIN_TABLE_ROWS = 10_000;
// Rows one execution is expected to keep, as a share of the table, for an index scan to pay off.
const MAX_SELECTIVITY = 0.05;
// PostgreSQL's default selectivity for an inequality it has no histogram for (DEFAULT_INEQ_SEL).
const RANGE_SELECTIVITY = 1 / 3;
const MAX_COLUMNS = 3;

interface ColumnStats {
  nDistinct: number | null;
  nullFrac: number | null;
}
interface TableStats {
  schema: string;
  table: string;
  estimatedRows: number;
  liveRows: number;
  seqScans: number;
  seqRowsRead: number;
  indexScans: number;
  columns: Map<string, ColumnStats>;
}
interface Candidate {
  table: TableStats;
  columns: string[];
  selectivity: number;
  columnEvidence: Record<string, unknown>[];
  queries: { query: SlowQuery; plan: PlanSummary; seqScanCost: number; hypotheticalCost: number | null }[];
}

export async function indexSuggestions(pool: Pool, slow: SlowQuery[]): Promise<Optimization[]> {
  const candidates = new Map<string, Candidate>();
  const hypopg = Boolean((await pool.query(HYPOPG_INSTALLED)).rows[0]?.installed);
  for (const query of slow) {
    const uses = await filterColumns(query.query);
    if (uses.length === 0) continue;
    const plan = await explain(pool, query.query);
    if (!plan || plan.seqScans.length === 0) continue;
    const tables = await tableStats(pool, uses);
    for (const scan of plan.seqScans) {
      const table = [...tables.values()].find(
        (t) => t.table === scan.table && (scan.schema === null || t.schema === scan.schema),
      );
      if (!table || Math.max(table.estimatedRows, table.liveRows) < MIN_TABLE_ROWS) continue;
      const pick = chooseColumns(table, resolve(uses, tables, table));
      if (!pick) continue;
      if (await covered(pool, table, pick.columns)) continue;
      const key = `${table.schema}.${table.table}(${pick.columns.join(',')})`;
      const hypothetical = hypopg ? await hypotheticalCost(pool, table, pick.columns, query.query) : null;
      if (hypothetical !== null && hypothetical > plan.totalCost / 2) continue;
      const entry = candidates.get(key) ?? { table, ...pick, queries: [] };
      entry.queries.push({ query, plan, seqScanCost: scan.cost, hypotheticalCost: hypothetical });
      candidates.set(key, entry);
    }
  }
  return [...candidates].map(([key, c]) => toOptimization(key, c, hypopg));
}

async function tableStats(pool: Pool, uses: ColumnUse[]): Promise<Map<string, TableStats>> {
  const names = [...new Set(uses.flatMap((u) => u.scope.map((s) => s.table)))];
  const { rows } = await pool.query(TABLE_COLUMNS, [names]);
  const out = new Map<string, TableStats>();
  for (const r of rows) {
    const key = `${r.schema}.${r.table}`;
    let t = out.get(key);
    if (!t) {
      t = {
        schema: r.schema as string,
        table: r.table as string,
        estimatedRows: Number(r.estimated_rows),
        liveRows: Number(r.live_rows ?? 0),
        seqScans: Number(r.seq_scan ?? 0),
        seqRowsRead: Number(r.seq_tup_read ?? 0),
        indexScans: Number(r.idx_scan ?? 0),
        columns: new Map(),
      };
      out.set(key, t);
    }
    t.columns.set(r.column as string, {
      nDistinct: r.n_distinct === null ? null : Number(r.n_distinct),
      nullFrac: r.null_frac === null ? null : Number(r.null_frac),
    });
  }
  return out;
}

/** The uses that belong to `table`, bare columns resolved by which table in scope has them. */
function resolve(uses: ColumnUse[], tables: Map<string, TableStats>, table: TableStats): ColumnUse[] {
  return uses.filter((u) => {
    if (!table.columns.has(u.column)) return false;
    if (u.table !== null) return u.table === table.table && (u.schema === null || u.schema === table.schema);
    const owners = u.scope.filter((s) =>
      [...tables.values()].some((t) => t.table === s.table && t.columns.has(u.column)),
    );
    return owners.length === 1 && owners[0]!.table === table.table;
  });
}

function chooseColumns(
  table: TableStats,
  uses: ColumnUse[],
): Pick<Candidate, 'columns' | 'selectivity' | 'columnEvidence'> | null {
  const rows = Math.max(table.estimatedRows, table.liveRows, 1);
  const selectivity = (column: string): number | null => {
    const s = table.columns.get(column);
    if (!s || s.nDistinct === null) return null;
    const distinct = s.nDistinct < 0 ? -s.nDistinct * rows : s.nDistinct;
    return distinct <= 0 ? null : 1 / distinct;
  };
  const equality = [...new Set(uses.filter((u) => u.kind === 'equality').map((u) => u.column))]
    .map((c) => ({ column: c, sel: selectivity(c) }))
    .filter((c): c is { column: string; sel: number } => c.sel !== null)
    .sort((a, b) => a.sel - b.sel);
  const range = uses.find((u) => u.kind === 'range' && selectivity(u.column) !== null);
  const join = uses.find((u) => u.kind === 'join' && selectivity(u.column) !== null);
  const picked: { column: string; sel: number; kind: string }[] = equality
    .slice(0, MAX_COLUMNS)
    .map((c) => ({ ...c, kind: 'equality' }));
  if (range && picked.length < MAX_COLUMNS && !picked.some((p) => p.column === range.column))
    picked.push({ column: range.column, sel: RANGE_SELECTIVITY, kind: 'range' });
  if (picked.length === 0 && join)
    picked.push({ column: join.column, sel: selectivity(join.column)!, kind: 'join' });
  if (picked.length === 0) return null;
  const combined = picked.reduce((acc, p) => acc * p.sel, 1);
  if (combined > MAX_SELECTIVITY) return null;
  return {
    columns: picked.map((p) => p.column),
    selectivity: combined,
    columnEvidence: picked.map((p) => {
      const s = table.columns.get(p.column)!;
      return {
        column: p.column,
        predicate: p.kind,
        nDistinct: s.nDistinct,
        nullFrac: s.nullFrac,
        selectivity: p.sel,
        rowsPerValue: round(p.sel * rows, 1),
      };
    }),
  };
}

/** True when an existing valid b-tree already starts with exactly these columns. */
async function covered(pool: Pool, table: TableStats, columns: string[]): Promise<boolean> {
  const { rows } = await pool.query(TABLE_INDEXES, [table.schema, table.table]);
  return rows.some((r) => {
    if (!r.valid || r.partial || r.expressions || r.method !== 'btree') return false;
    const existing = r.columns as string[];
    return columns.every((c, i) => existing[i] === c);
  });
}

async function hypotheticalCost(
  pool: Pool,
  table: TableStats,
  columns: string[],
  query: string,
): Promise<number | null> {
  // Hypothetical indexes live in one backend: create, plan and reset on one connection.
  const lease = await pool.acquire();
  try {
    await lease.query(HYPOPG_CREATE, [createIndexSql(table.schema, table.table, 'hypo', columns, false)]);
    return (await explain(lease, query))?.totalCost ?? null;
  } catch {
    return null;
  } finally {
    await lease.query(HYPOPG_RESET).catch(() => undefined);
    lease.release();
  }
}

export function indexName(table: string, columns: string[]): string {
  const name = `${table}_${columns.join('_')}_idx`;
  return name.length <= 63 ? name : `${name.slice(0, 54)}_${hashSuffix(name)}`;
}

function hashSuffix(s: string): string {
  let h = 0;
  for (const ch of s) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h.toString(16).padStart(8, '0');
}

export function createIndexSql(
  schema: string,
  table: string,
  index: string,
  columns: string[],
  concurrently = true,
): string {
  return (
    `CREATE INDEX${concurrently ? ' CONCURRENTLY' : ''} ${quoteIdent(index)} ON ${quoteIdent(schema)}.${quoteIdent(table)} ` +
    `(${columns.map(quoteIdent).join(', ')})`
  );
}

function toOptimization(key: string, c: Candidate, hypopg: boolean): Optimization {
  const { table } = c;
  const index = indexName(table.table, c.columns);
  const top = [...c.queries].sort((a, b) => b.query.totalMs - a.query.totalMs)[0]!;
  const rows = Math.max(table.estimatedRows, table.liveRows);
  const perScan = table.seqScans === 0 ? 0 : table.seqRowsRead / table.seqScans;
  const calls = c.queries.reduce((sum, q) => sum + q.query.calls, 0);
  const totalMs = c.queries.reduce((sum, q) => sum + q.query.totalMs, 0);
  const cols = c.columns.join(', ');
  const hypo =
    top.hypotheticalCost === null
      ? hypopg
        ? ''
        : ' (HypoPG is not installed, so the gain is judged from the plan and pg_stats, not a hypothetical index.)'
      : ` With a hypothetical index (HypoPG) the planner's cost drops from ${round(top.plan.totalCost)} to ${round(top.hypotheticalCost)}.`;
  return {
    id: optimizationId(OptimizationKind.CreateIndex, key),
    kind: OptimizationKind.CreateIndex,
    title: `Index ${table.schema}.${table.table} (${cols})`,
    rationale:
      `${c.queries.length} slow statement(s) filter ${table.table} on ${cols} (${calls} calls, ${round(totalMs)} ms in total; ` +
      `the slowest averages ${round(top.query.meanMs, 2)} ms and returns ${round(top.query.rowsPerCall)} rows per call), ` +
      `but the plan reads all ~${Math.round(rows)} rows with a sequential scan (cost ${round(top.seqScanCost)} of ${round(top.plan.totalCost)}). ` +
      `${table.table} has had ${table.seqScans} sequential scans reading ${table.seqRowsRead} rows (${Math.round(perScan)} per scan) ` +
      `and ${table.indexScans} index scans. By pg_stats the condition keeps about ${round(c.selectivity * 100, 4)}% of the rows ` +
      `(~${round(c.selectivity * rows, 1)}), so an index reads a handful of pages instead of the table.${hypo} ` +
      'Built CONCURRENTLY: writes continue while it builds.',
    risk: 'LOW',
    statements: [createIndexSql(table.schema, table.table, index, c.columns)],
    actionSummary: `CREATE INDEX CONCURRENTLY ${index} on a dedicated connection (no statement timeout); an INVALID index left by a failed build is dropped.`,
    applicable: true,
    requiresRestart: false,
    evidence: {
      table: `${table.schema}.${table.table}`,
      columns: c.columns,
      tableRows: rows,
      seqScans: table.seqScans,
      seqRowsRead: table.seqRowsRead,
      rowsPerSeqScan: Math.round(perScan),
      indexScans: table.indexScans,
      rowsReturnedPerCall: top.query.rowsPerCall,
      selectivity: c.selectivity,
      columnStats: c.columnEvidence,
      planCost: top.plan.totalCost,
      seqScanCost: top.seqScanCost,
      hypotheticalCost: top.hypotheticalCost,
      hypopg,
      queries: c.queries.map((q) => ({
        id: q.query.id,
        query: q.query.query,
        calls: q.query.calls,
        meanMs: q.query.meanMs,
      })),
    },
    action: {
      type: 'create-index',
      schema: table.schema,
      table: table.table,
      index,
      columns: c.columns,
      query: top.query.query,
    },
  };
}
