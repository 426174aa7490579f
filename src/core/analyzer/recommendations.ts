import type { Features } from './features.js';
import type { PlanSummary } from './plan-summary.js';
import { formatRows, type RouteClass } from './score.js';

export interface RecommendationInput {
  features: Features;
  plan: PlanSummary | null;
  planError: string | null;
  tableRows: Record<string, number> | null;
  largeTableRows: number;
  writes: boolean;
  route: RouteClass;
  queueConcurrency: number;
}

/** Concrete advice, most useful first, each naming what it is about. */
export function recommend(input: RecommendationInput): string[] {
  const f = input.features;
  const out: string[] = [];
  for (const scan of input.plan?.seqScans ?? []) {
    if (scan.rows < input.largeTableRows) continue;
    out.push(
      scan.column
        ? `index ${scan.relation.replace(/"/g, '')}(${scan.column}): sequential scan of ${formatRows(scan.rows)} rows filtered on ${scan.column}`
        : `sequential scan of ${formatRows(scan.rows)} rows of ${scan.relation.replace(/"/g, '')}: filter on an indexed column or add LIMIT`,
    );
  }
  if (!input.plan && input.tableRows) {
    for (const [table, rows] of Object.entries(input.tableRows)) {
      if (rows >= input.largeTableRows) {
        out.push(
          `${table} has ${formatRows(rows)} rows: make sure the columns this query filters and joins on are indexed`,
        );
      }
    }
  }
  if (input.planError) out.push(`the planner rejected the statement: ${input.planError}`);
  if (f.leadingWildcardLike > 0) {
    out.push(
      'a LIKE pattern starting with % cannot use a b-tree index: use a pg_trgm GIN index or full-text search',
    );
  }
  if (!input.writes && f.tables.length > 0 && !f.limit && (f.orderBy || !f.where)) {
    out.push(
      f.orderBy
        ? 'add LIMIT: ORDER BY without LIMIT sorts the whole result'
        : 'add LIMIT (or a WHERE clause): the query returns whole tables',
    );
  }
  if (f.selectStar) out.push('select only the columns you need instead of *');
  if (f.joins >= 3) out.push(`${f.joins} joins: check that every join column is indexed on both sides`);
  if (f.subqueries >= 2) out.push('several subqueries: consider rewriting them as joins or CTEs');
  if (f.distinct && f.joins > 0)
    out.push('DISTINCT over a join often hides a duplicating join: check the join conditions');
  if (input.route === 'COMPLEX' && !input.writes) {
    out.push(
      `complex read: runs through the complex-query queue (${input.queueConcurrency} at a time), on a replica when one is healthy; consider a materialized view for repeated use`,
    );
  }
  return out;
}
