/**
 * The `poolpilot` schema on the primary, as an ordered list of versioned steps. A step is never
 * edited once released: a change is a new step, so every database reaches the same shape.
 */
export interface Migration {
  version: number;
  name: string;
  /** Run in order, in the migration's transaction. */
  statements: string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'optimization audit trail',
    statements: [
      `CREATE TABLE poolpilot.optimization_audit (
  id              bigserial PRIMARY KEY,
  optimization_id text        NOT NULL,
  kind            text        NOT NULL,
  title           text        NOT NULL,
  actor           text        NOT NULL,
  dry_run         boolean     NOT NULL,
  outcome         text        NOT NULL,
  statements      text[]      NOT NULL DEFAULT '{}',
  executed        text[]      NOT NULL DEFAULT '{}',
  before          jsonb,
  after           jsonb,
  message         text,
  error           text,
  started_at      timestamptz NOT NULL,
  finished_at     timestamptz NOT NULL DEFAULT now()
)`,
      'CREATE INDEX optimization_audit_optimization_id ON poolpilot.optimization_audit (optimization_id, finished_at DESC)',
      'CREATE INDEX optimization_audit_finished_at ON poolpilot.optimization_audit (finished_at DESC)',
    ],
  },
];
