/** Every statement the audit trail and its migrations send, named for what it asks. */

// A fixed advisory-lock key, so two poolpilots starting against one primary migrate one at a time.
export const MIGRATION_LOCK = `SELECT pg_advisory_xact_lock(7083711642)`;

export const CREATE_SCHEMA = 'CREATE SCHEMA IF NOT EXISTS poolpilot';

export const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS poolpilot.schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

export const APPLIED_VERSIONS = `SELECT version FROM poolpilot.schema_migrations ORDER BY version`;

export const RECORD_MIGRATION = `INSERT INTO poolpilot.schema_migrations (version, name) VALUES ($1, $2)`;

export const INSERT_AUDIT = `
INSERT INTO poolpilot.optimization_audit
  (optimization_id, kind, title, actor, dry_run, outcome, statements, executed, before, after, message, error, started_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
RETURNING id, finished_at`;

export const LIST_AUDIT = `
SELECT id, optimization_id, kind, title, actor, dry_run, outcome, statements, executed, before, after,
       message, error, started_at, finished_at
FROM poolpilot.optimization_audit
WHERE ($1::text IS NULL OR optimization_id = $1)
ORDER BY finished_at DESC, id DESC
LIMIT $2`;

export const LAST_APPLIED = `
SELECT id, finished_at FROM poolpilot.optimization_audit
WHERE optimization_id = $1 AND outcome = 'APPLIED' AND NOT dry_run
ORDER BY finished_at DESC LIMIT 1`;
