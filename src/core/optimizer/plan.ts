import type { Lease, Pool } from '../pool/index.js';
import { explainGeneric } from './sql.js';

/** The parts of an EXPLAIN plan the optimizer reasons about. */
export interface PlanSummary {
  totalCost: number;
  rows: number;
  seqScans: { schema: string | null; table: string; cost: number; rows: number; filter: string | null }[];
  indexesUsed: string[];
}

type PlanNode = Record<string, unknown> & { Plans?: PlanNode[] };

/**
 * EXPLAIN (GENERIC_PLAN): plans the normalized text pg_stat_statements keeps ($1, $2 ...)
 * without values. Null when the statement cannot be planned that way.
 */
export async function explain(runner: Pool | Lease, query: string): Promise<PlanSummary | null> {
  try {
    const { rows } = await runner.query(explainGeneric(query));
    const root = ((rows[0]?.['QUERY PLAN'] as { Plan: PlanNode }[] | undefined) ?? [])[0]?.Plan;
    return root ? summarize(root) : null;
  } catch {
    return null;
  }
}

export function summarize(root: PlanNode): PlanSummary {
  const summary: PlanSummary = {
    totalCost: Number(root['Total Cost']),
    rows: Number(root['Plan Rows']),
    seqScans: [],
    indexesUsed: [],
  };
  const visit = (node: PlanNode) => {
    const type = node['Node Type'];
    if (type === 'Seq Scan') {
      summary.seqScans.push({
        schema: (node.Schema as string | undefined) ?? null,
        table: node['Relation Name'] as string,
        cost: Number(node['Total Cost']),
        rows: Number(node['Plan Rows']),
        filter: (node.Filter as string | undefined) ?? null,
      });
    }
    if (typeof node['Index Name'] === 'string') summary.indexesUsed.push(node['Index Name']);
    for (const child of node.Plans ?? []) visit(child);
  };
  visit(root);
  return summary;
}
