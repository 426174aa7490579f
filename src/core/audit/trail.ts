import { ErrorCode, PoolpilotError } from '../errors.js';
import type { Cluster } from '../pool/index.js';
import type { Migrator } from './migrator.js';
import { INSERT_AUDIT, LAST_APPLIED, LIST_AUDIT } from './sql.js';

export type AuditOutcome = 'DRY_RUN' | 'APPLIED' | 'ALREADY_APPLIED' | 'FAILED' | 'ADVICE_ONLY' | 'NOT_FOUND';

/** One attempt to apply an optimization, as it is written to `poolpilot.optimization_audit`. */
export interface AuditAttempt {
  optimizationId: string;
  kind: string;
  title: string;
  actor: string;
  dryRun: boolean;
  outcome: AuditOutcome;
  statements: string[];
  executed: string[];
  before: unknown;
  after: unknown;
  message: string | null;
  error: string | null;
  startedAt: Date;
}

export interface AuditEntry extends AuditAttempt {
  id: string;
  finishedAt: Date;
}

/**
 * The audit table on the primary: every apply attempt, dry run or not, succeeded or not. Entries
 * are written to the writer of the moment (refused in a split brain) and read from the target
 * acting as primary, so a failover moves both to the promoted server, which holds the earlier
 * entries by replication.
 */
export class AuditTrail {
  readonly #cluster: Cluster;
  readonly #migrator: Migrator;

  constructor(cluster: Cluster, migrator: Migrator) {
    this.#cluster = cluster;
    this.#migrator = migrator;
  }

  async record(attempt: AuditAttempt): Promise<AuditEntry> {
    await this.#ready();
    const writer = this.#cluster.writer();
    const { rows } = await writer.admin.query(INSERT_AUDIT, [
      attempt.optimizationId,
      attempt.kind,
      attempt.title,
      attempt.actor,
      attempt.dryRun,
      attempt.outcome,
      attempt.statements,
      attempt.executed,
      json(attempt.before),
      json(attempt.after),
      attempt.message,
      attempt.error,
      attempt.startedAt,
    ]);
    return { ...attempt, id: String(rows[0]!.id), finishedAt: rows[0]!.finished_at as Date };
  }

  async list(options: { optimizationId?: string | null; limit?: number } = {}): Promise<AuditEntry[]> {
    await this.#ready();
    const acting = this.#cluster.actingPrimary();
    const { rows } = await acting.admin.query(LIST_AUDIT, [
      options.optimizationId ?? null,
      options.limit ?? 50,
    ]);
    return rows.map((r) => ({
      id: String(r.id),
      optimizationId: r.optimization_id as string,
      kind: r.kind as string,
      title: r.title as string,
      actor: r.actor as string,
      dryRun: r.dry_run as boolean,
      outcome: r.outcome as AuditOutcome,
      statements: r.statements as string[],
      executed: r.executed as string[],
      before: r.before,
      after: r.after,
      message: r.message as string | null,
      error: r.error as string | null,
      startedAt: r.started_at as Date,
      finishedAt: r.finished_at as Date,
    }));
  }

  /** When `optimizationId` was last applied successfully, or null. */
  async lastApplied(optimizationId: string): Promise<Date | null> {
    await this.#ready();
    const { rows } = await this.#cluster.actingPrimary().admin.query(LAST_APPLIED, [optimizationId]);
    return (rows[0]?.finished_at as Date | undefined) ?? null;
  }

  async #ready(): Promise<void> {
    if (await this.#migrator.migrate()) return;
    throw new PoolpilotError(
      ErrorCode.DbUnavailable,
      `the audit trail is not available yet: ${this.#migrator.state.error ?? 'the primary is down'}`,
      { details: { target: this.#cluster.writerName() } },
    );
  }
}

function json(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}
