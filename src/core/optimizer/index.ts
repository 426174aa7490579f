import type { AuditEntry, AuditOutcome, AuditTrail } from '../audit/index.js';
import { ErrorCode, PoolpilotError } from '../errors.js';
import type { Insights } from '../insights/index.js';
import type { Cluster } from '../pool/index.js';
import { execute } from './apply.js';
import { indexSuggestions } from './indexes.js';
import { pgbouncerIni } from './pgbouncer.js';
import { pgbouncerOptimization, poolResize } from './suggest-pool.js';
import { enablePgStatStatements, settingChanges, slowQueryLogging } from './suggest-server.js';
import { terminateIdle } from './suggest-sessions.js';
import { analyzeTables, partitionTables } from './suggest-tables.js';
import type { Optimization } from './types.js';

export { type ColumnUse, filterColumns } from './columns.js';
export { pgbouncerIni } from './pgbouncer.js';
export { explain, type PlanSummary } from './plan.js';
export {
  type Optimization,
  type OptimizationAction,
  OptimizationKind,
  optimizationId,
  type Risk,
} from './types.js';

export interface ApplyResult {
  id: string;
  kind: string;
  title: string;
  dryRun: boolean;
  outcome: AuditOutcome;
  /** What runs (dry run) or ran. */
  statements: string[];
  executed: string[];
  before: unknown;
  after: unknown;
  message: string;
  error: string | null;
  /** PGBOUNCER_CONFIG's file. */
  artifact: string | null;
  optimization: Optimization | null;
  audit: AuditEntry;
}

export interface OptimizerOptions {
  idleInTransactionLimitMs: number;
}

const KIND_ORDER = [
  'ENABLE_PG_STAT_STATEMENTS',
  'CREATE_INDEX',
  'ANALYZE_TABLE',
  'TERMINATE_IDLE_IN_TRANSACTION',
  'POOL_RESIZE',
  'SLOW_QUERY_LOGGING',
  'SETTING_CHANGE',
  'PARTITION_TABLE',
  'PGBOUNCER_CONFIG',
];

/** Suggestions computed from the live database, and applying them with an audit trail. */
export class Optimizer {
  readonly #cluster: Cluster;
  readonly #insights: Insights;
  readonly #audit: AuditTrail;
  readonly #options: OptimizerOptions;
  // One apply at a time per id, so a double click cannot build an index twice.
  readonly #inFlight = new Map<string, Promise<ApplyResult>>();
  readonly #listeners = new Set<(result: ApplyResult, actor: string) => void>();

  constructor(cluster: Cluster, insights: Insights, audit: AuditTrail, options: OptimizerOptions) {
    this.#cluster = cluster;
    this.#insights = insights;
    this.#audit = audit;
    this.#options = options;
  }

  async list(): Promise<Optimization[]> {
    const acting = this.#cluster.actingPrimary();
    const pool = acting.admin;
    const [settings, ext, tables, slow, states, preload] = await Promise.all([
      this.#insights.settings(),
      this.#insights.slowQueries.extension(),
      this.#insights.tables(50),
      this.#insights.slowQueries.list({ limit: 50 }),
      this.#insights.connectionStates({ allDatabases: true }),
      pool.query(`SELECT current_setting('shared_preload_libraries') AS libs`),
    ]);
    const [indexes, analyze, idle] = await Promise.all([
      indexSuggestions(pool, slow.queries),
      analyzeTables(pool),
      terminateIdle(pool, this.#options.idleInTransactionLimitMs),
    ]);
    const primary = acting.pool;
    const resize = poolResize(primary.state(), settings.server, {
      maxConnections: states.maxConnections,
      otherConnections: states.serverTotal - states.poolpilot,
    });
    const ini = pgbouncerIni({
      primary: acting.spec.endpoint,
      replicas: this.#cluster.replicas.map((r) => r.spec.endpoint),
      pool: primary.options,
      poolSize: settings.poolSize,
      maxConnections: states.maxConnections,
    });
    const all = [
      enablePgStatStatements(ext, String(preload.rows[0]?.libs ?? '')),
      ...indexes,
      ...analyze,
      ...idle,
      resize,
      slowQueryLogging(settings.settings),
      ...settingChanges(settings.settings),
      ...partitionTables(tables),
      pgbouncerOptimization(ini, settings.poolSize),
    ].filter((o): o is Optimization => o !== null);
    return all.sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind));
  }

  /** Told of every attempt that was not a dry run, whatever its outcome (logs); returns the remover. */
  onApplied(listener: (result: ApplyResult, actor: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  apply(id: string, options: { dryRun: boolean; actor: string }): Promise<ApplyResult> {
    const running = this.#inFlight.get(id);
    if (running && !options.dryRun) return running.then(() => this.apply(id, options));
    const notify = (result: ApplyResult) => {
      if (!options.dryRun) for (const listener of this.#listeners) listener(result, options.actor);
      return result;
    };
    const attempt = this.#apply(id, options)
      .then(notify)
      .finally(() => {
        if (this.#inFlight.get(id) === attempt) this.#inFlight.delete(id);
      });
    if (!options.dryRun) this.#inFlight.set(id, attempt);
    return attempt;
  }

  history(options: { optimizationId?: string | null; limit?: number } = {}): Promise<AuditEntry[]> {
    return this.#audit.list(options);
  }

  async #apply(id: string, { dryRun, actor }: { dryRun: boolean; actor: string }): Promise<ApplyResult> {
    const startedAt = new Date();
    const current = (await this.list()).find((o) => o.id === id);
    if (!current) return this.#notCurrent(id, dryRun, actor, startedAt);
    const base = {
      id,
      optimizationId: id,
      kind: current.kind,
      title: current.title,
      actor,
      dryRun,
      statements: current.statements,
      startedAt,
    };
    const artifact = current.action.type === 'artifact' ? current.action.content : null;
    if (dryRun || !current.applicable) {
      const outcome: AuditOutcome = dryRun ? 'DRY_RUN' : 'ADVICE_ONLY';
      const message = dryRun
        ? `Dry run, nothing changed. Would: ${current.actionSummary}${current.statements.length ? ` Statements: ${current.statements.join('; ')}` : ''}`
        : `Advice only, nothing applied: ${current.actionSummary}`;
      const attempt = { ...base, outcome, executed: [], before: null, after: null, message, error: null };
      const audit = await this.#audit.record(attempt);
      return { ...attempt, artifact, optimization: current, audit };
    }
    const effect = await execute(current, this.#cluster);
    const outcome: AuditOutcome = effect.ok ? 'APPLIED' : 'FAILED';
    const audit = await this.#audit.record({ ...base, outcome, ...effect });
    return { ...base, outcome, ...effect, artifact, optimization: current, audit };
  }

  /** Not among today's suggestions: already applied (its problem is gone), or never was one. */
  async #notCurrent(id: string, dryRun: boolean, actor: string, startedAt: Date): Promise<ApplyResult> {
    const last = (await this.#audit.list({ optimizationId: id, limit: 20 })).find(
      (e) => e.outcome === 'APPLIED' && !e.dryRun,
    );
    if (!last) {
      await this.#audit.record({
        optimizationId: id,
        kind: 'UNKNOWN',
        title: 'unknown optimization',
        actor,
        dryRun,
        outcome: 'NOT_FOUND',
        statements: [],
        executed: [],
        before: null,
        after: null,
        message: 'no current suggestion has this id',
        error: null,
        startedAt,
      });
      throw new PoolpilotError(
        ErrorCode.OptimizationNotFound,
        `no current optimization has id ${JSON.stringify(id)}: it is unknown, or its problem is gone (list optimizations again)`,
        { details: { id } },
      );
    }
    const message = `Already applied at ${last.finishedAt.toISOString()} by ${last.actor}; the problem is gone, so nothing was changed.`;
    const entry = {
      optimizationId: id,
      kind: last.kind,
      title: last.title,
      actor,
      dryRun,
      outcome: 'ALREADY_APPLIED' as const,
      statements: [],
      executed: [],
      before: null,
      after: null,
      message,
      error: null,
      startedAt,
    };
    const audit = await this.#audit.record(entry);
    return { ...entry, id, artifact: null, optimization: null, audit };
  }
}
