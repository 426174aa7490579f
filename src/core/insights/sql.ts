import { OWN_MARK } from '../application-name.js';
/**
 * Every statement insights send to pg_catalog and pg_stat_*, named for what it asks. Each starts
 * with the OWN_MARK comment, which pg_stat_statements keeps, so poolpilot's own statements can be
 * left out of the slow-query list.
 */

export const STATEMENTS_EXTENSION = `${OWN_MARK}
SELECT (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
         WHERE e.extname = 'pg_stat_statements') AS schema,
       'pg_stat_statements' = ANY (string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ','))
         AS preloaded,
       EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements') AS available`;

const ORDER_COLUMNS = {
  TOTAL_TIME: 'total_exec_time',
  MEAN_TIME: 'mean_exec_time',
  MAX_TIME: 'max_exec_time',
  CALLS: 'calls',
  ROWS: 'rows',
} as const;
export type SlowQueryOrder = keyof typeof ORDER_COLUMNS;
export const SLOW_QUERY_ORDERS = Object.keys(ORDER_COLUMNS) as SlowQueryOrder[];

/**
 * `schema` comes from pg_extension (an identifier PostgreSQL gave us), quoted here. poolpilot's own
 * statements are left out by what a caller cannot forge: $4 true leaves out every statement of
 * the role asking (the control-plane role, when it is not the data role); $5 are poolpilot's own
 * statement texts exactly as stored, $6 the prefix of the analyzer's EXPLAIN of a caller's statement.
 */
export function slowQueries(schema: string, orderBy: SlowQueryOrder): string {
  const view = `${quoteIdent(schema)}.pg_stat_statements`;
  return `${OWN_MARK}
WITH s AS (
  SELECT queryid::text AS queryid, query, calls, total_exec_time, mean_exec_time, min_exec_time, max_exec_time,
         stddev_exec_time, rows, shared_blks_hit, shared_blks_read, temp_blks_written
  FROM ${view}
  WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND toplevel
    AND NOT ($4::boolean AND userid = (SELECT oid FROM pg_roles WHERE rolname = current_user))
    -- Parameter numbers left out: PostgreSQL and libpg_query number normalized constants apart.
    AND NOT (regexp_replace(query, '[$][0-9]+', '$', 'g') = ANY ($5::text[]))
    AND NOT starts_with(query, $6)
), totals AS (SELECT sum(total_exec_time) AS all_ms FROM s)
SELECT s.*, least(100, 100 * s.total_exec_time / NULLIF(totals.all_ms, 0)) AS share,
       CASE WHEN s.shared_blks_hit + s.shared_blks_read = 0 THEN NULL
            ELSE s.shared_blks_hit::float8 / (s.shared_blks_hit + s.shared_blks_read) END AS cache_hit_ratio
FROM s, totals
WHERE s.calls >= $1 AND s.mean_exec_time >= $2
ORDER BY s.${ORDER_COLUMNS[orderBy]} DESC, s.queryid
LIMIT $3`;
}

/** Only this database's entries: the view is cluster-wide. */
export function resetStatements(schema: string): string {
  return `${OWN_MARK} SELECT ${quoteIdent(schema)}.pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)`;
}

export const MAX_CONNECTIONS = `${OWN_MARK} SELECT current_setting('max_connections')::int AS max_connections`;

/** Sessions idle in a transaction, or running one statement, for longer than $2 ms. */
export const LONG_SESSIONS = `${OWN_MARK}
SELECT pid, usename AS "user", application_name, datname AS database, client_addr::text, state,
       wait_event_type, wait_event, backend_start, xact_start, query_start, state_change,
       extract(epoch FROM clock_timestamp() - xact_start) * 1000 AS transaction_ms,
       extract(epoch FROM clock_timestamp() - CASE WHEN state = 'active' THEN query_start ELSE state_change END) * 1000
         AS state_ms,
       left(query, $3) AS query
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
  AND ($1::boolean OR datname = current_database())
  AND ((state LIKE 'idle in transaction%' AND clock_timestamp() - state_change >= $2 * interval '1 millisecond')
    OR (state = 'active' AND clock_timestamp() - query_start >= $2 * interval '1 millisecond'))
ORDER BY coalesce(xact_start, query_start)`;

export const BLOCKING = `${OWN_MARK}
SELECT blocked.pid AS blocked_pid, blocked.usename AS blocked_user, blocked.application_name AS blocked_application,
       left(blocked.query, $2) AS blocked_query,
       extract(epoch FROM clock_timestamp() - blocked.query_start) * 1000 AS waiting_ms,
       blocking.pid AS blocking_pid, blocking.usename AS blocking_user,
       blocking.application_name AS blocking_application, blocking.state AS blocking_state,
       left(blocking.query, $2) AS blocking_query
FROM pg_stat_activity blocked
CROSS JOIN LATERAL unnest(pg_blocking_pids(blocked.pid)) AS b(pid)
JOIN pg_stat_activity blocking ON blocking.pid = b.pid
WHERE ($1::boolean OR blocked.datname = current_database())
ORDER BY waiting_ms DESC`;

export const LARGEST_TABLES = `${OWN_MARK}
SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, c.relkind = 'p' AS partitioned,
       pg_total_relation_size(c.oid) AS total_bytes, pg_relation_size(c.oid) AS table_bytes,
       pg_indexes_size(c.oid) AS index_bytes, c.reltuples::float8 AS estimated_rows,
       s.n_live_tup AS live_rows, s.n_dead_tup AS dead_rows, s.seq_scan, s.seq_tup_read, s.idx_scan,
       s.n_tup_ins AS inserted, s.n_tup_upd AS updated, s.n_tup_del AS deleted,
       s.n_mod_since_analyze AS modified_since_analyze,
       s.last_analyze, s.last_autoanalyze, s.last_vacuum, s.last_autovacuum,
       (SELECT coalesce(array_agg(a.attname::text ORDER BY a.attnum), '{}') FROM pg_attribute a
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           AND a.atttypid IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype)) AS time_columns
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'poolpilot') AND n.nspname NOT LIKE 'pg_toast%'
ORDER BY pg_total_relation_size(c.oid) DESC, c.oid
LIMIT $1`;

export const SETTINGS = `${OWN_MARK}
SELECT name, setting, unit, vartype, context, source, boot_val, reset_val, pending_restart, short_desc
FROM pg_settings
WHERE name = ANY ($1::text[])`;

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
