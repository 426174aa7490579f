import type { Features } from './features.js';
import type { PlanSummary } from './plan-summary.js';

/**
 * The complexity formula, 0..100 = structure (0..60) + data (0..40).
 *
 * Structure, from the parse tree:
 *   10 per join, 8 per subquery, 5 per CTE, 10 per window function, 6 per set operation,
 *   8 GROUP BY, 5 aggregates, 4 HAVING, 6 DISTINCT, 5 ORDER BY (+5 more without LIMIT),
 *   10 per leading-wildcard LIKE, 4 SELECT *, 6 reading a table with neither WHERE nor LIMIT,
 *   1 per other function (at most 5); capped at 60.
 * Data, from the planner (EXPLAIN on the primary):
 *   12 × log10(1 + total cost / 500), capped at 30 (cost 100 → 1, 1k → 5.7, 10k → 15.9, 100k → 27.6),
 *   + 8 per sequential scan of a large relation (ANALYZER_LARGE_TABLE_ROWS), at most 10.
 * When the planner refuses the statement, the same terms are estimated from the tables' row
 * counts: cost ≈ Σ rows × (1 + joins) / 10, and every large table counts as scanned.
 * With no database at all, data is 0 and the analysis says it is parse-only.
 */

export type Severity = 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL';
export type RouteClass = 'FAST' | 'MEDIUM' | 'COMPLEX';

export interface ScoreFactor {
  name: string;
  points: number;
  detail: string;
}

export interface ScoreInput {
  features: Features;
  plan: PlanSummary | null;
  tableRows: Record<string, number> | null;
  largeTableRows: number;
}

const STRUCTURE_CAP = 60;
const COST_CAP = 30;
const SCAN_CAP = 10;

export function scoreStatement(input: ScoreInput): { complexity: number; factors: ScoreFactor[] } {
  const f = input.features;
  const factors: ScoreFactor[] = [];
  const add = (name: string, points: number, detail: string) => {
    if (points > 0) factors.push({ name, points: round(points), detail });
  };
  add('joins', 10 * f.joins, `${f.joins} join(s)`);
  add('subqueries', 8 * f.subqueries, `${f.subqueries} subquery(ies)`);
  add('ctes', 5 * f.ctes, `${f.ctes} CTE(s)`);
  add('windowFunctions', 10 * f.windowFunctions, `${f.windowFunctions} window function(s)`);
  add('setOperations', 6 * f.setOperations, `${f.setOperations} UNION/INTERSECT/EXCEPT`);
  add('groupBy', f.groupBy ? 8 : 0, 'GROUP BY');
  add('aggregates', f.aggregates > 0 ? 5 : 0, `${f.aggregates} aggregate(s)`);
  add('having', f.having ? 4 : 0, 'HAVING');
  add('distinct', f.distinct ? 6 : 0, 'DISTINCT');
  add('orderBy', f.orderBy ? (f.limit ? 5 : 10) : 0, f.limit ? 'ORDER BY' : 'ORDER BY without LIMIT');
  add('leadingWildcardLike', 10 * f.leadingWildcardLike, "LIKE '%...' cannot use a b-tree index");
  add('selectStar', f.selectStar ? 4 : 0, 'SELECT *');
  add(
    'unbounded',
    f.tables.length > 0 && !f.where && !f.limit ? 6 : 0,
    'reads whole tables: no WHERE, no LIMIT',
  );
  const others = f.functions.length - f.aggregates - f.windowFunctions;
  add('functions', Math.min(5, Math.max(0, others)), `${Math.max(0, others)} function call(s)`);
  const structure = factors.reduce((sum, x) => sum + x.points, 0);
  if (structure > STRUCTURE_CAP) add('structureCap', 0, '');
  const cappedStructure = Math.min(STRUCTURE_CAP, structure);

  let data = 0;
  if (input.plan) {
    const cost = Math.min(COST_CAP, costPoints(input.plan.totalCost));
    add('plannerCost', cost, `planner total cost ${Math.round(input.plan.totalCost)}`);
    const large = input.plan.seqScans.filter((s) => s.rows >= input.largeTableRows);
    const scans = Math.min(SCAN_CAP, 8 * large.length);
    add('largeSeqScans', scans, large.map((s) => `${s.relation} (${formatRows(s.rows)} rows)`).join(', '));
    data = cost + scans;
  } else if (input.tableRows) {
    const rows = Object.values(input.tableRows);
    const estimate = (rows.reduce((a, b) => a + b, 0) * (1 + f.joins)) / 10;
    const cost = Math.min(COST_CAP, costPoints(estimate));
    add('estimatedCost', cost, `no plan: cost estimated from table sizes (${Math.round(estimate)})`);
    const large = Object.entries(input.tableRows).filter(([, n]) => n >= input.largeTableRows);
    const scans = Math.min(SCAN_CAP, 8 * large.length);
    add('largeTables', scans, large.map(([t, n]) => `${t} (${formatRows(n)} rows)`).join(', '));
    data = cost + scans;
  }
  return { complexity: Math.round(Math.min(100, cappedStructure + data)), factors };
}

export function severityOf(complexity: number): Severity {
  if (complexity >= 75) return 'CRITICAL';
  if (complexity >= 50) return 'HIGH';
  if (complexity >= 25) return 'MEDIUM';
  return 'LOW';
}

export function routeOf(complexity: number, thresholds: { medium: number; complex: number }): RouteClass {
  if (complexity >= thresholds.complex) return 'COMPLEX';
  if (complexity >= thresholds.medium) return 'MEDIUM';
  return 'FAST';
}

/** 1234567 → "1.2M", 35000 → "35k". */
export function formatRows(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${Math.round(n / 1e3)}k`;
  return String(Math.round(n));
}

function costPoints(cost: number): number {
  return 12 * Math.log10(1 + cost / 500);
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
