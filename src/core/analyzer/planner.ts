import type { Pool } from '../pool/index.js';
import { type PlanSummary, quoteName } from './plan-summary.js';
import { planSafely, type SafePlanOptions } from './safe-plan.js';
import { RELATION_ROWS } from './sql.js';

export interface PlannerAnswer {
  plan: PlanSummary | null;
  /** Why there is no plan (the planner's error), when it was asked and refused. */
  planError: string | null;
  /** Why the planner was not asked after all (what planning could have run), or null. */
  hazard: string | null;
  /** Estimated rows of each table the statement names (by the name it uses). */
  tableRows: Record<string, number>;
}

/**
 * Asks the primary: a side-effect-free plan (safe-plan.ts) when `explain`, then the sizes of
 * the relations involved. Connection failures propagate (the caller answers from the parse
 * alone); planner errors (unknown table, bad GROUP BY...) come back as `planError`.
 */
export async function askPlanner(
  pool: Pool,
  sql: string,
  options: SafePlanOptions & { explain: boolean },
): Promise<PlannerAnswer> {
  const lease = await pool.acquire();
  try {
    const safe = options.explain
      ? await planSafely(lease, sql, options)
      : { plan: null, planError: null, hazard: null };
    const plan = safe.plan;
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
    return { plan, planError: safe.planError, hazard: safe.hazard, tableRows };
  } catch (error) {
    // Whatever escaped (a lost connection, a failed rollback or reset), the session is not known clean.
    lease.markBroken();
    throw error;
  } finally {
    lease.release();
  }
}
