import type { Pool } from '../pool/index.js';
import type { QueryObservations } from './observations.js';
import { OWN_EXPLAIN_PREFIX, ownStatementTexts } from './own-statements.js';
import {
  resetStatements,
  SLOW_QUERY_ORDERS,
  type SlowQueryOrder,
  STATEMENTS_EXTENSION,
  slowQueries,
} from './sql.js';

export type { SlowQueryOrder };
export type SlowQuerySource = 'pg_stat_statements' | 'observations';

export interface SlowQuery {
  /** pg_stat_statements' queryid, or the parser's fingerprint for poolpilot's own observations. */
  id: string;
  query: string;
  calls: number;
  totalMs: number;
  meanMs: number;
  minMs: number;
  maxMs: number;
  stddevMs: number | null;
  rows: number;
  rowsPerCall: number;
  /** This query's share of all statement time in the database, 0..100. */
  sharePercent: number;
  /** Shared-buffer hits / (hits + reads), 0..1; null when it read no blocks or was not measured. */
  cacheHitRatio: number | null;
  tempBlocksWritten: number | null;
}

export interface SlowQueryReport {
  source: SlowQuerySource;
  /** What to do to get better figures (enable pg_stat_statements), or null. */
  suggestion: string | null;
  minCalls: number;
  minMeanMs: number;
  since: Date | null;
  queries: SlowQuery[];
}

export interface SlowQueryOptions {
  limit?: number;
  orderBy?: SlowQueryOrder;
  minMeanMs?: number;
  minCalls?: number;
}

export interface StatementsExtension {
  /** Schema pg_stat_statements is installed in, in this database; null when not created here. */
  schema: string | null;
  /** In shared_preload_libraries (without it the view cannot be read). */
  preloaded: boolean;
  /** Its files are installed on the server. */
  available: boolean;
}

export interface SlowQueryThresholds {
  minCalls: number;
  minMeanMs: number;
}

export interface SlowQueryRoles {
  /**
   * The pool asked connects as a role of its own (not the data role): every statement of that
   * role is poolpilot's and is left out by role.
   */
  separateAdminRole: boolean;
}

/** Slow statements from pg_stat_statements, or from poolpilot's own observations without it. */
export class SlowQueries {
  /** The control-plane pool of the target acting as primary, asked each time (a failover moves it). */
  readonly #pool: () => Pool;
  readonly #observations: QueryObservations;
  readonly #defaults: SlowQueryThresholds;
  readonly #roles: SlowQueryRoles;
  readonly #ownTexts = new Map<string, string[]>();

  constructor(
    pool: () => Pool,
    observations: QueryObservations,
    defaults: SlowQueryThresholds,
    roles: SlowQueryRoles = { separateAdminRole: false },
  ) {
    this.#pool = pool;
    this.#observations = observations;
    this.#defaults = defaults;
    this.#roles = roles;
  }

  async extension(): Promise<StatementsExtension> {
    const { rows } = await this.#pool().query(STATEMENTS_EXTENSION);
    const row = rows[0]!;
    return {
      schema: (row.schema as string | null) ?? null,
      preloaded: row.preloaded as boolean,
      available: row.available as boolean,
    };
  }

  async list(options: SlowQueryOptions = {}): Promise<SlowQueryReport> {
    const limit = Math.max(1, Math.min(options.limit ?? 20, 500));
    const orderBy = options.orderBy ?? 'TOTAL_TIME';
    const minCalls = options.minCalls ?? this.#defaults.minCalls;
    const minMeanMs = options.minMeanMs ?? this.#defaults.minMeanMs;
    const ext = await this.extension();
    if (ext.schema !== null && ext.preloaded) {
      const schema = ext.schema;
      // Normalizing costs tens of ms: once per schema the extension lives in.
      let own = this.#ownTexts.get(schema);
      if (!own) {
        own = await ownStatementTexts([
          ...SLOW_QUERY_ORDERS.map((order) => slowQueries(schema, order)),
          resetStatements(schema),
        ]);
        this.#ownTexts.set(schema, own);
      }
      const { rows } = await this.#pool().query(slowQueries(schema, orderBy), [
        minCalls,
        minMeanMs,
        limit,
        this.#roles.separateAdminRole,
        own,
        OWN_EXPLAIN_PREFIX,
      ]);
      return {
        source: 'pg_stat_statements',
        suggestion: null,
        minCalls,
        minMeanMs,
        since: null,
        queries: rows.map(fromStatementsRow),
      };
    }
    return {
      source: 'observations',
      suggestion: enableSuggestion(ext),
      minCalls,
      minMeanMs,
      since: this.#observations.since,
      queries: this.#fromObservations(orderBy, minCalls, minMeanMs, limit),
    };
  }

  /** Clears this database's pg_stat_statements entries (when readable) and poolpilot's observations. */
  async reset(): Promise<{ source: SlowQuerySource[]; resetAt: Date }> {
    const ext = await this.extension();
    const source: SlowQuerySource[] = ['observations'];
    if (ext.schema !== null && ext.preloaded) {
      await this.#pool().query(resetStatements(ext.schema));
      source.unshift('pg_stat_statements');
    }
    this.#observations.clear();
    return { source, resetAt: new Date() };
  }

  #fromObservations(
    orderBy: SlowQueryOrder,
    minCalls: number,
    minMeanMs: number,
    limit: number,
  ): SlowQuery[] {
    const shapes = this.#observations.snapshot();
    const allMs = shapes.reduce((sum, s) => sum + s.totalMs, 0);
    const key: Record<SlowQueryOrder, (q: SlowQuery) => number> = {
      TOTAL_TIME: (q) => q.totalMs,
      MEAN_TIME: (q) => q.meanMs,
      MAX_TIME: (q) => q.maxMs,
      CALLS: (q) => q.calls,
      ROWS: (q) => q.rows,
    };
    return shapes
      .filter((s) => s.calls >= minCalls && s.meanMs >= minMeanMs)
      .map(
        (s): SlowQuery => ({
          id: s.fingerprint,
          query: s.query,
          calls: s.calls,
          totalMs: s.totalMs,
          meanMs: s.meanMs,
          minMs: s.minMs,
          maxMs: s.maxMs,
          stddevMs: null,
          rows: s.rows,
          rowsPerCall: s.rows / s.calls,
          // min: a float sum of parts can land a hair above the whole
          sharePercent: allMs === 0 ? 0 : Math.min(100, (100 * s.totalMs) / allMs),
          cacheHitRatio: null,
          tempBlocksWritten: null,
        }),
      )
      .sort((a, b) => key[orderBy](b) - key[orderBy](a) || a.id.localeCompare(b.id))
      .slice(0, limit);
  }
}

export function enableSuggestion(ext: StatementsExtension): string {
  if (!ext.available)
    return "pg_stat_statements is not installed on the server: install the PostgreSQL contrib package, add it to shared_preload_libraries, restart, then CREATE EXTENSION pg_stat_statements. Until then these figures are poolpilot's own, for statements sent through it.";
  if (!ext.preloaded)
    return "pg_stat_statements is not in shared_preload_libraries: apply the ENABLE_PG_STAT_STATEMENTS optimization (ALTER SYSTEM; needs a restart), then CREATE EXTENSION pg_stat_statements. Until then these figures are poolpilot's own, for statements sent through it.";
  return "pg_stat_statements is loaded but not created in this database: apply the ENABLE_PG_STAT_STATEMENTS optimization (CREATE EXTENSION pg_stat_statements). Until then these figures are poolpilot's own, for statements sent through it.";
}

function fromStatementsRow(r: Record<string, unknown>): SlowQuery {
  const calls = Number(r.calls);
  const rows = Number(r.rows);
  return {
    id: r.queryid as string,
    query: r.query as string,
    calls,
    totalMs: Number(r.total_exec_time),
    meanMs: Number(r.mean_exec_time),
    minMs: Number(r.min_exec_time),
    maxMs: Number(r.max_exec_time),
    stddevMs: Number(r.stddev_exec_time),
    rows,
    rowsPerCall: calls === 0 ? 0 : rows / calls,
    sharePercent: Number(r.share ?? 0),
    cacheHitRatio: r.cache_hit_ratio === null ? null : Number(r.cache_hit_ratio),
    tempBlocksWritten: Number(r.temp_blks_written),
  };
}
