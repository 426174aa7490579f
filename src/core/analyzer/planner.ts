import { ErrorCode, isConnectionError, isPoolpilotError } from '../errors.js';
import type { Pool } from '../pool/index.js';
import { BEGIN_PLANNING, END_PLANNING, EXPLAIN, RELATION_ROWS } from './sql.js';

/** What the planner says about a statement, without running it. */
export interface PlanSummary {
  totalCost: number;
  startupCost: number;
  estimatedRows: number;
  /** Sequential scans in the plan, with the relation's size. */
  seqScans: SeqScan[];
  /** Plan node types, outermost first, e.g. ['Sort', 'Hash Join', 'Seq Scan', ...]. */
  nodes: string[];
}

export interface SeqScan {
  relation: string;
  rows: number;
  /** The scan's filter as the planner prints it, e.g. "(o.user_id = 42)". */
  filter: string | null;
  /** The column the filter tests first: an index candidate. */
  column: string | null;
}

export interface PlannerAnswer {
  plan: PlanSummary | null;
  /** Why there is no plan (the planner's error), when it was asked and refused. */
  planError: string | null;
  /** Estimated rows of each table the statement names (by the name it uses). */
  tableRows: Record<string, number>;
}

interface PlanNode {
  'Node Type': string;
  'Total Cost': number;
  'Startup Cost': number;
  'Plan Rows': number;
  'Relation Name'?: string;
  Schema?: string;
  Filter?: string;
  Plans?: PlanNode[];
}

/**
 * Asks the primary's planner: EXPLAIN (no ANALYZE) inside a READ ONLY transaction with a short
 * statement and lock timeout, always rolled back; then the sizes of the relations involved.
 * Connection failures propagate (the caller answers from the parse alone); planner errors
 * (unknown table, bad GROUP BY...) come back as `planError`.
 */
export async function askPlanner(
  pool: Pool,
  sql: string,
  options: { explain: boolean; generic: boolean; timeoutMs: number; tables: string[] },
): Promise<PlannerAnswer> {
  const lease = await pool.acquire();
  try {
    let plan: PlanSummary | null = null;
    let planError: string | null = null;
    if (options.explain) {
      await lease.query(BEGIN_PLANNING(options.timeoutMs));
      try {
        const { rows } = await lease.query(EXPLAIN(sql, options.generic));
        plan = summarise((rows[0]!['QUERY PLAN'] as { Plan: PlanNode }[])[0]!.Plan);
      } catch (error) {
        if (isPoolpilotError(error) && error.code === ErrorCode.DbUnavailable) throw error;
        planError = (error as Error).message;
      } finally {
        await lease.query(END_PLANNING);
      }
    }
    const names = [
      ...new Set([...options.tables.map(quoteName), ...(plan?.seqScans.map((s) => s.relation) ?? [])]),
    ];
    const tableRows: Record<string, number> = {};
    if (names.length > 0) {
      const { rows } = await lease.query(RELATION_ROWS, [names]);
      const byName = new Map<string, number>();
      for (const row of rows) {
        byName.set(String(row.name), Number(row.rows));
        byName.set(String(row.relation), Number(row.rows));
      }
      for (const table of options.tables) tableRows[table] = byName.get(quoteName(table)) ?? 0;
      for (const scan of plan?.seqScans ?? []) scan.rows = byName.get(scan.relation) ?? scan.rows;
    }
    return { plan, planError, tableRows };
  } catch (error) {
    if (isConnectionError(error) || !isPoolpilotError(error)) lease.markBroken();
    throw error;
  } finally {
    lease.release();
  }
}

/** "public.orders" → "public"."orders"; quoting keeps case and odd characters intact. */
function quoteName(name: string): string {
  return name
    .split('.')
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.');
}

function summarise(root: PlanNode): PlanSummary {
  const seqScans: SeqScan[] = [];
  const nodes: string[] = [];
  const walk = (node: PlanNode) => {
    nodes.push(node['Node Type']);
    if (node['Node Type'] === 'Seq Scan' && node['Relation Name']) {
      seqScans.push({
        relation: quoteName(node.Schema ? `${node.Schema}.${node['Relation Name']}` : node['Relation Name']),
        rows: node['Plan Rows'],
        filter: node.Filter ?? null,
        column: filterColumn(node.Filter),
      });
    }
    for (const child of node.Plans ?? []) walk(child);
  };
  walk(root);
  return {
    totalCost: root['Total Cost'],
    startupCost: root['Startup Cost'],
    estimatedRows: root['Plan Rows'],
    seqScans,
    nodes,
  };
}

function filterColumn(filter: string | undefined): string | null {
  if (!filter) return null;
  const match =
    /^\(*(?:"?[\w$]+"?\.)?"?([\w$]+)"?\)?(?:::[\w ]+)?\s*(?:=|<>|<=|>=|<|>|~~\*?|!~~|IS\b|= ANY)/i.exec(
      filter,
    );
  return match ? match[1]! : null;
}
