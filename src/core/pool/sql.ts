import { OWN_MARK } from '../application-name.js';

/** Every statement the pool's health checking sends, named for what it asks. */

// One check for every target, whatever it was configured as: the server says what it is.
// CASE short-circuits at run time, so recovery-only functions are not called on a primary and
// pg_current_wal_lsn() (which fails in recovery) not on a standby.
export const TARGET_CHECK = `${OWN_MARK}
SELECT pg_is_in_recovery() AS in_recovery,
       current_setting('default_transaction_read_only')::boolean AS read_only,
       current_setting('server_version') AS server_version,
       CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS wal_lsn,
       CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()::text END AS receive_lsn,
       CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text END AS replay_lsn,
       CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END AS replay_paused,
       CASE
         WHEN NOT pg_is_in_recovery() THEN NULL
         WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
         ELSE extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000
       END AS lag_ms`;

/** What the data role may do beyond its own tables (start-up warns about a superuser). */
export const DATA_ROLE_ATTRIBUTES = `${OWN_MARK} SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = $1`;
