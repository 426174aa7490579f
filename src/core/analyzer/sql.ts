import { OWN_MARK } from '../application-name.js';

/** Every statement the analyzer (and the optimizer, through plan.ts) sends of its own, named for what it asks. */

/**
 * A transaction that cannot write and gives up quickly: the planner is asked, nothing runs. The
 * lexical settings are the ones libpg_query assumed when it split and judged the text, whatever
 * the connection had.
 */
export const BEGIN_PLANNING = (timeoutMs: number) => {
  const ms = Math.max(1, Math.floor(timeoutMs));
  return (
    `${OWN_MARK} BEGIN READ ONLY; SET LOCAL statement_timeout = ${ms}; SET LOCAL lock_timeout = ${ms}; ` +
    `SET LOCAL idle_in_transaction_session_timeout = ${Math.max(1_000, ms * 2)}; ` +
    "SET LOCAL standard_conforming_strings = on; SET LOCAL backslash_quote = safe_encoding; SET LOCAL client_encoding = 'UTF8'"
  );
};

/** Rolled back, then every trace of the session reset (advisory locks, settings, temp objects). */
export const END_PLANNING = 'ROLLBACK';
export const RESET_SESSION = 'DISCARD ALL';

/** EXPLAIN without ANALYZE plans the statement and never executes it (not even a write). */
export const EXPLAIN = (sql: string, generic: boolean) =>
  `${OWN_MARK} EXPLAIN (FORMAT JSON, VERBOSE${generic ? ', GENERIC_PLAN' : ''}) ${sql}`;

/**
 * What could make planning run code that is not PostgreSQL's own: the relations a statement
 * names (and everything their views and rules read, and their partitions and children) with
 * defaults, constraints, rules, policies, indexes or partition keys that call a function or
 * operator outside pg_catalog and extensions; a function outside them sharing a name the
 * statement calls (overloading picks it for other argument types); an operator the statement
 * uses that is implemented by such a function; any cast implemented by one. Also relations
 * planning would reach outside the database (foreign tables).
 * $1: relation names as written, $2: function names (bare), $3: operator names.
 */
export const PLANNING_HAZARDS = `${OWN_MARK}
WITH RECURSIVE user_procs AS (
  SELECT p.oid, p.proname FROM pg_proc p
  WHERE p.pronamespace <> 'pg_catalog'::regnamespace
    AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid AND e.deptype = 'e')
), user_ops AS (
  SELECT o.oid, o.oprname FROM pg_operator o WHERE o.oprcode::oid IN (SELECT oid FROM user_procs)
), rels AS (
  SELECT to_regclass(n)::oid AS oid FROM unnest($1::text[]) AS n WHERE to_regclass(n) IS NOT NULL
  UNION
  SELECT x.oid FROM rels r, LATERAL (
    SELECT i.inhrelid AS oid FROM pg_inherits i WHERE i.inhparent = r.oid
    UNION ALL
    SELECT d.refobjid FROM pg_rewrite w
    JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid AND d.refclassid = 'pg_class'::regclass
    WHERE w.ev_class = r.oid
  ) x
), attached AS (
  SELECT 'pg_class'::regclass AS classid, r.oid AS objid, r.oid AS rel FROM rels r
  UNION ALL SELECT 'pg_class'::regclass, x.indexrelid, x.indrelid FROM pg_index x JOIN rels r ON x.indrelid = r.oid
  UNION ALL SELECT 'pg_attrdef'::regclass, a.oid, a.adrelid FROM pg_attrdef a JOIN rels r ON a.adrelid = r.oid
  UNION ALL SELECT 'pg_constraint'::regclass, c.oid, c.conrelid FROM pg_constraint c JOIN rels r ON c.conrelid = r.oid
  UNION ALL SELECT 'pg_rewrite'::regclass, w.oid, w.ev_class FROM pg_rewrite w JOIN rels r ON w.ev_class = r.oid
  UNION ALL SELECT 'pg_policy'::regclass, p.oid, p.polrelid FROM pg_policy p JOIN rels r ON p.polrelid = r.oid
)
SELECT
  ARRAY(SELECT DISTINCT t.rel::regclass::text FROM attached t JOIN pg_depend d ON d.classid = t.classid AND d.objid = t.objid
        WHERE (d.refclassid = 'pg_proc'::regclass AND d.refobjid IN (SELECT oid FROM user_procs))
           OR (d.refclassid = 'pg_operator'::regclass AND d.refobjid IN (SELECT oid FROM user_ops))) AS relations_calling,
  ARRAY(SELECT c.oid::regclass::text FROM pg_class c JOIN rels r ON c.oid = r.oid WHERE c.relkind = 'f') AS foreign_tables,
  ARRAY(SELECT DISTINCT proname::text FROM user_procs WHERE proname = ANY ($2::text[])) AS shadowed_functions,
  ARRAY(SELECT DISTINCT oprname::text FROM user_ops WHERE oprname = ANY ($3::text[])) AS user_operators,
  EXISTS (SELECT 1 FROM pg_cast k WHERE k.castfunc IN (SELECT oid FROM user_procs)) AS user_casts`;

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
