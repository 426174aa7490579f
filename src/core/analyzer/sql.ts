import { OWN_MARK } from '../application-name.js';

/** Every statement the analyzer sends of its own, named for what it asks. */

/** A transaction that cannot write and gives up quickly: the planner is asked, nothing runs. */
export const BEGIN_PLANNING = (timeoutMs: number) =>
  `${OWN_MARK} BEGIN READ ONLY; SET LOCAL statement_timeout = ${Math.max(1, Math.floor(timeoutMs))}; SET LOCAL lock_timeout = ${Math.max(1, Math.floor(timeoutMs))}`;

export const END_PLANNING = 'ROLLBACK';

/** EXPLAIN without ANALYZE plans the statement and never executes it (not even a write). */
export const EXPLAIN = (sql: string, generic: boolean) =>
  `${OWN_MARK} EXPLAIN (FORMAT JSON, VERBOSE${generic ? ', GENERIC_PLAN' : ''}) ${sql}`;

/**
 * Estimated rows of the named relations: the planner's reltuples, or the live-tuple count when
 * the table was never analyzed (reltuples -1).
 */
export const RELATION_ROWS = `${OWN_MARK}
SELECT r.name,
       c.oid::regclass::text AS relation,
       COALESCE(NULLIF(c.reltuples, -1), s.n_live_tup, 0)::float8 AS rows
FROM unnest($1::text[]) AS r(name)
JOIN pg_class c ON c.oid = to_regclass(r.name)
LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid`;
