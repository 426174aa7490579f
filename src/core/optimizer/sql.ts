/** Every statement the optimizer sends to pg_catalog and pg_stat_*, named for what it asks. */
import { OWN_MARK } from '../application-name.js';

/** Sessions idle in a transaction longer than $1 ms in this database, poolpilot's own left out. */
export const IDLE_IN_TRANSACTION = `${OWN_MARK}
SELECT pid, usename AS "user", application_name, backend_start::text AS backend_start, state,
       extract(epoch FROM clock_timestamp() - state_change) * 1000 AS idle_ms,
       extract(epoch FROM clock_timestamp() - xact_start) * 1000 AS transaction_ms,
       left(query, 200) AS query
FROM pg_stat_activity
WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
  AND state LIKE 'idle in transaction%'
  AND clock_timestamp() - state_change >= $1 * interval '1 millisecond'
  AND application_name <> ALL ($2::text[])
ORDER BY state_change`;

/**
 * Terminates the session only if it is still the same one (pid reuse), still idle in a
 * transaction, and not poolpilot's.
 */
export const TERMINATE_SESSION = `${OWN_MARK}
SELECT pid, pg_terminate_backend(pid) AS terminated
FROM pg_stat_activity
WHERE pid = $1 AND backend_start::text = $2 AND state LIKE 'idle in transaction%'
  AND application_name <> ALL ($3::text[])`;

export const SESSION_EXISTS = `${OWN_MARK}
SELECT state FROM pg_stat_activity WHERE pid = $1 AND backend_start::text = $2`;

/** Tables whose planner statistics are missing or stale. */
export const STALE_STATISTICS = `${OWN_MARK}
SELECT s.schemaname AS schema, s.relname AS name, s.n_live_tup AS live_rows, c.reltuples::float8 AS estimated_rows,
       s.n_mod_since_analyze AS modified, greatest(s.last_analyze, s.last_autoanalyze) AS last_analyzed,
       current_setting('autovacuum_analyze_scale_factor')::float8 AS scale_factor,
       current_setting('autovacuum_analyze_threshold')::int AS threshold
FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
WHERE s.schemaname <> 'poolpilot' AND s.n_live_tup >= $1
  AND (greatest(s.last_analyze, s.last_autoanalyze) IS NULL OR s.n_mod_since_analyze > $2 * greatest(c.reltuples, 1))
ORDER BY s.n_mod_since_analyze DESC
LIMIT 50`;

export const TABLE_ANALYZE_STATE = `${OWN_MARK}
SELECT s.n_mod_since_analyze AS modified, greatest(s.last_analyze, s.last_autoanalyze) AS last_analyzed,
       c.reltuples::float8 AS estimated_rows
FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
WHERE s.schemaname = $1 AND s.relname = $2`;

/** Columns and per-column statistics of the tables a query touches. */
export const TABLE_COLUMNS = `${OWN_MARK}
SELECT n.nspname AS schema, c.relname AS table, a.attname AS column, c.reltuples::float8 AS estimated_rows,
       s.n_distinct::float8 AS n_distinct, s.null_frac::float8 AS null_frac, s.correlation::float8 AS correlation,
       t.seq_scan, t.seq_tup_read, t.idx_scan, t.n_live_tup AS live_rows
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname AND s.attname = a.attname
LEFT JOIN pg_stat_user_tables t ON t.relid = c.oid
WHERE c.relkind IN ('r', 'p', 'm') AND c.relname = ANY ($1::text[])
  AND n.nspname = ANY (current_schemas(false)) AND n.nspname <> 'poolpilot'`;

/** Each index's plain key columns, in order; expression and partial indexes report that. */
export const TABLE_INDEXES = `${OWN_MARK}
SELECT n.nspname AS schema, t.relname AS table, i.relname AS name, x.indisvalid AS valid, am.amname AS method,
       x.indpred IS NOT NULL AS partial, x.indexprs IS NOT NULL AS expressions,
       array(SELECT a.attname::text FROM unnest(x.indkey[0:x.indnkeyatts - 1]) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.ord) AS columns
FROM pg_index x
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am am ON am.oid = i.relam
WHERE n.nspname = $1 AND t.relname = $2`;

export const INDEX_STATE = `${OWN_MARK}
SELECT x.indisvalid AS valid, x.indisready AS ready
FROM pg_class i JOIN pg_index x ON x.indexrelid = i.oid JOIN pg_namespace n ON n.oid = i.relnamespace
WHERE n.nspname = $1 AND i.relname = $2`;

export const HYPOPG_INSTALLED = `${OWN_MARK}
SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'hypopg') AS installed`;

export const HYPOPG_CREATE = `SELECT indexrelid FROM hypopg_create_index($1)`;
export const HYPOPG_RESET = `SELECT hypopg_reset()`;

export const SETTING_VALUE = `${OWN_MARK}
SELECT name, setting, unit, context, pending_restart FROM pg_settings WHERE name = $1`;

export const RELOAD = 'SELECT pg_reload_conf()';
