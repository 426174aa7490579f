/** What the planner says about a statement, without running it: one reading of EXPLAIN (FORMAT JSON) for every caller. */
export interface PlanSummary {
  totalCost: number;
  startupCost: number;
  estimatedRows: number;
  /** Sequential scans in the plan, with the relation's size. */
  seqScans: SeqScan[];
  /** Plan node types, outermost first, e.g. ['Sort', 'Hash Join', 'Seq Scan', ...]. */
  nodes: string[];
  /** Indexes the plan reads. */
  indexesUsed: string[];
}

export interface SeqScan {
  /** Quoted and schema-qualified when the plan says the schema: "public"."orders". */
  relation: string;
  schema: string | null;
  table: string;
  rows: number;
  cost: number;
  /** The scan's filter as the planner prints it, e.g. "(o.user_id = 42)". */
  filter: string | null;
  /** The column the filter tests first: an index candidate. */
  column: string | null;
}

export interface PlanNode {
  'Node Type': string;
  'Total Cost': number;
  'Startup Cost': number;
  'Plan Rows': number;
  'Relation Name'?: string;
  'Index Name'?: string;
  Schema?: string;
  Filter?: string;
  Plans?: PlanNode[];
}

export function summarizePlan(root: PlanNode): PlanSummary {
  const seqScans: SeqScan[] = [];
  const nodes: string[] = [];
  const indexesUsed: string[] = [];
  // Iterative: a plan is as deep as the statement, and the statement's depth is bounded, but
  // nothing here needs the call stack.
  const pending: PlanNode[] = [root];
  while (pending.length > 0) {
    const node = pending.shift()!;
    nodes.push(node['Node Type']);
    if (node['Node Type'] === 'Seq Scan' && node['Relation Name']) {
      const table = node['Relation Name'];
      seqScans.push({
        relation: quoteName(node.Schema ? `${node.Schema}.${table}` : table),
        schema: node.Schema ?? null,
        table,
        rows: Number(node['Plan Rows']),
        cost: Number(node['Total Cost']),
        filter: node.Filter ?? null,
        column: filterColumn(node.Filter),
      });
    }
    if (typeof node['Index Name'] === 'string') indexesUsed.push(node['Index Name']);
    pending.unshift(...(node.Plans ?? []));
  }
  return {
    totalCost: Number(root['Total Cost']),
    startupCost: Number(root['Startup Cost']),
    estimatedRows: Number(root['Plan Rows']),
    seqScans,
    nodes,
    indexesUsed,
  };
}

/** "public.orders" → "public"."orders"; quoting keeps case and odd characters intact. */
export function quoteName(name: string): string {
  return name
    .split('.')
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.');
}

function filterColumn(filter: string | undefined): string | null {
  if (!filter) return null;
  const match =
    /^\(*(?:"?[\w$]+"?\.)?"?([\w$]+)"?\)?(?:::[\w ]+)?\s*(?:=|<>|<=|>=|<|>|~~\*?|!~~|IS\b|= ANY)/i.exec(
      filter,
    );
  return match ? match[1]! : null;
}
