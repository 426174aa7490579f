import { type PlanSummary, planningFacts, planSafely } from '../analyzer/index.js';
import type { Lease, Pool } from '../pool/index.js';

export type { PlanSummary };

/** How long one optimizer EXPLAIN may take (statement and lock timeout). */
export const OPTIMIZER_PLAN_TIMEOUT_MS = 2_000;

/**
 * EXPLAIN (GENERIC_PLAN) of the normalized text pg_stat_statements keeps ($1, $2 ...), without
 * values, through the analyzer's side-effect-free planning (read only, short timeouts, rolled
 * back, session reset; only statements whose functions are PostgreSQL's own). Null when the
 * statement cannot, or may not, be planned. On a given lease (HypoPG's hypothetical indexes live
 * in one backend) or on a connection of `runner`.
 */
export async function explain(runner: Pool | Lease, query: string): Promise<PlanSummary | null> {
  const facts = await planningFacts(query);
  if (!('options' in facts)) return null;
  const options = { ...facts.options, generic: true, timeoutMs: OPTIMIZER_PLAN_TIMEOUT_MS };
  if (!('acquire' in runner))
    return (await planSafely(runner, query, options).catch(() => null))?.plan ?? null;
  let lease: Lease;
  try {
    lease = await runner.acquire();
  } catch {
    return null;
  }
  try {
    return (await planSafely(lease, query, options)).plan;
  } catch {
    lease.markBroken();
    return null;
  } finally {
    lease.release();
  }
}
