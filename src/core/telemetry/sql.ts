import { OWN_MARK } from '../application-name.js';

/**
 * Every statement telemetry sends to PostgreSQL. Kept in one place so a reader (or a DBA
 * wondering what poolpilot runs every second) can find them all.
 */

/**
 * One row per client session on the server, except the session asking. Ages come from the
 * server's clock so a skewed client clock does not distort them; `state_change` dates the
 * current idle-in-transaction spell, `xact_start` the whole transaction. poolpilot's own sessions
 * carry its application_name, or that name and a suffix (the health checker's `poolpilot-health`).
 */
export const CONNECTION_STATES_SQL = `${OWN_MARK}
SELECT
  coalesce(a.state, 'unknown') AS state,
  a.wait_event_type,
  coalesce(a.datname, '') AS database,
  a.datname = current_database() AS current_database,
  coalesce(a.application_name, '') AS application,
  (a.application_name = $1 OR starts_with(a.application_name, $1 || '-')) AS own,
  cardinality(pg_blocking_pids(a.pid)) > 0 AS blocked,
  (extract(epoch FROM clock_timestamp() - a.xact_start) * 1000)::float8 AS xact_age_ms,
  (extract(epoch FROM clock_timestamp() - a.state_change) * 1000)::float8 AS state_age_ms
FROM pg_stat_activity a
WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()`;

/**
 * The session's server process and the postmaster's start time: enough to find the server's
 * processes in /proc and make sure they are the right ones.
 */
export const SERVER_PROCESS_SQL = `${OWN_MARK}
SELECT pg_backend_pid() AS pid,
       (extract(epoch FROM pg_postmaster_start_time()) * 1000)::float8 AS started_ms`;
