import type pg from 'pg';
import type { Analysis, Analyzer, RouteClass } from '../analyzer/index.js';
import { ErrorCode, fromPgError, isConnectionError, isPoolpilotError, PoolpilotError } from '../errors.js';
import type { Logger } from '../logger.js';
import { type Cluster, cancelBackend, type Lease, type Target } from '../pool/index.js';
import type { ComplexQueue } from '../queue/index.js';
import type { ReadYourWrites, Route, Router } from '../router/index.js';
import { type CappedResult, cappedQuery } from './capped-query.js';
import { atStatement, checkMaxRows, checkStatement, checkTimeout, gone } from './checks.js';
import { BEGIN, COMMIT, CURRENT_WAL_LSN, ROLLBACK } from './sql.js';

export interface ExecuteOptions {
  /** At most DB_STATEMENT_TIMEOUT; the statement is cancelled on the server when it passes. */
  timeoutMs?: number;
  /** Aborted when the caller goes away: the running statement is cancelled on the server. */
  signal?: AbortSignal;
  /** At most EXECUTE_MAX_ROWS. */
  maxRows?: number;
}

export interface Statement {
  sql: string;
  params?: unknown[];
}

export interface ExecuteResult {
  rows: Record<string, unknown>[];
  fields: { name: string; dataTypeID: number }[];
  /** Rows returned or affected; for a truncated result, the rows returned. */
  rowCount: number;
  command: string | null;
  durationMs: number;
  truncated: boolean;
  route: RouteClass;
  target: string;
  queued: boolean;
  queueWaitMs: number;
  reason: string;
  complexity: number;
}

export interface TransactionResult {
  results: ExecuteResult[];
  durationMs: number;
  target: string;
}

/** Where the executor reports each finished statement (per-shape figures). */
export interface ObservationSink {
  record(fingerprint: string, normalizedSql: string, durationMs: number, rows: number): void;
}

export interface ExecutorOptions {
  statementTimeoutMs: number;
  maxRows: number;
}

export interface ExecutorDeps {
  cluster: Cluster;
  analyzer: Analyzer;
  router: Router;
  queue: ComplexQueue;
  freshness: ReadYourWrites;
  options: ExecutorOptions;
  log: Logger;
  observations?: ObservationSink | null;
}

/**
 * One statement from the caller to PostgreSQL and back: analyze → route → (queue) → pool →
 * `pg`, with a row cap, a timeout that cancels on the server, a read retried on the primary when
 * its replica turns out to be down, and the write's WAL position kept for read-your-writes.
 */
export class Executor {
  readonly #d: ExecutorDeps;
  readonly #listeners = new Set<(result: ExecuteResult, sql: string) => void>();

  constructor(deps: ExecutorDeps) {
    this.#d = deps;
  }

  /** Told of every statement `execute` completed, with its route (metrics, logs); returns the remover. */
  onExecuted(listener: (result: ExecuteResult, sql: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async execute(sql: string, params: unknown[] = [], options: ExecuteOptions = {}): Promise<ExecuteResult> {
    const result = await this.#execute(sql, params, options);
    for (const listener of this.#listeners) listener(result, sql);
    return result;
  }

  async #execute(sql: string, params: unknown[], options: ExecuteOptions): Promise<ExecuteResult> {
    const timeoutMs = checkTimeout(options.timeoutMs, this.#d.options.statementTimeoutMs);
    const maxRows = checkMaxRows(options.maxRows, this.#d.options.maxRows);
    const analysis = await this.#d.analyzer.analyze(sql);
    checkStatement(analysis, params, 'executeQuery');
    const job: Job = { sql, params, analysis, timeoutMs, maxRows, signal: options.signal };
    const route = this.#d.router.decide(analysis);
    if (!route.queued) return this.#routed(route, job);
    const { value, waitMs } = await this.#d.queue.run(
      // Decided again when the slot comes: replicas may have come or gone while it waited.
      () => this.#routed(this.#d.router.decide(analysis), job),
      options.signal,
    );
    return { ...value, queued: true, queueWaitMs: waitMs };
  }

  /** Several statements atomically on the primary: all commit, or none. */
  async transaction(statements: Statement[], options: ExecuteOptions = {}): Promise<TransactionResult> {
    if (statements.length === 0) throw new PoolpilotError(ErrorCode.BadUserInput, 'no statements given');
    const timeoutMs = checkTimeout(options.timeoutMs, this.#d.options.statementTimeoutMs);
    const maxRows = checkMaxRows(options.maxRows, this.#d.options.maxRows);
    const analyses: Analysis[] = [];
    for (const [i, s] of statements.entries()) {
      const analysis = await this.#d.analyzer.analyze(s.sql).catch((error) => {
        throw atStatement(error, i);
      });
      try {
        checkStatement(analysis, s.params ?? [], 'executeTransaction');
      } catch (error) {
        throw atStatement(error, i);
      }
      analyses.push(analysis);
    }
    const primary = this.#d.cluster.primary;
    const started = performance.now();
    const results: ExecuteResult[] = [];
    await this.#withLease(primary, timeoutMs, options.signal, async (lease, guard) => {
      await lease.client.query(BEGIN);
      let index = 0;
      try {
        for (; index < statements.length; index++) {
          const s = statements[index]!;
          const a = analyses[index]!;
          const t0 = performance.now();
          const r = await cappedQuery(lease.client, s.sql, s.params ?? [], maxRows);
          const durationMs = performance.now() - t0;
          this.#observe(a, durationMs, r, primary, s.sql);
          results.push(
            this.#result(r, durationMs, a, {
              class: a.route,
              target: primary.name,
              queued: false,
              reason: 'in a transaction: the primary',
            }),
          );
        }
        await lease.client.query(COMMIT);
      } catch (error) {
        await lease.client.query(ROLLBACK).catch(() => guard.markBroken());
        throw atStatement(guard.translate(error), index);
      }
      if (analyses.some((a) => a.writes))
        await this.#recordWrite(
          lease.client,
          analyses.flatMap((a) => a.tables),
        );
    });
    return { results, durationMs: performance.now() - started, target: primary.name };
  }

  async #routed(route: Route, job: Job): Promise<ExecuteResult> {
    const target = this.#d.cluster.target(route.target) ?? this.#d.cluster.primary;
    try {
      return await this.#runOn(target, route, job);
    } catch (error) {
      // A read can always be served by the primary; the health monitor will catch up.
      if (target.role === 'replica' && isPoolpilotError(error) && error.code === ErrorCode.DbUnavailable) {
        this.#d.log.warn(
          { target: target.name, err: error.message },
          'replica unavailable: read retried on the primary',
        );
        const retry: Route = {
          ...route,
          target: 'primary',
          reason: `${target.name} unavailable (${error.message}): retried on the primary`,
        };
        return this.#runOn(this.#d.cluster.primary, retry, job);
      }
      throw error;
    }
  }

  async #runOn(target: Target, route: Route, job: Job): Promise<ExecuteResult> {
    const { sql, params, analysis, timeoutMs, maxRows, signal } = job;
    let result!: ExecuteResult;
    await this.#withLease(target, timeoutMs, signal, async (lease, guard) => {
      if (analysis.sessionState) guard.markBroken(); // its session state must not reach the next caller
      const started = performance.now();
      let r: CappedResult;
      try {
        r = await cappedQuery(lease.client, sql, params, maxRows);
      } catch (error) {
        target.pool.recordQuery(performance.now() - started, error, sql);
        throw guard.translate(error);
      }
      const durationMs = performance.now() - started;
      target.pool.recordQuery(durationMs, undefined, sql);
      this.#observe(analysis, durationMs, r, target, sql);
      if (analysis.writes && target.role === 'primary')
        await this.#recordWrite(lease.client, analysis.tables);
      result = this.#result(r, durationMs, analysis, route);
    });
    return result;
  }

  /**
   * Leases a connection of `target` for `work`, with the timeout and the caller's signal wired to
   * a server-side cancel; always releases it (closed instead of reused when it may be unsafe).
   */
  async #withLease(
    target: Target,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    work: (lease: Lease, guard: Guard) => Promise<void>,
  ): Promise<void> {
    if (signal?.aborted) throw gone();
    const lease = await target.pool.acquire();
    if (signal?.aborted) {
      lease.release();
      throw gone(); // went away while waiting for a connection
    }
    let timedOut = false;
    let cancelSent = false;
    let broken = false;
    const cancel = () => {
      if (cancelSent) return;
      cancelSent = true;
      void cancelBackend(lease.client).catch(() => undefined);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      cancel();
    }, timeoutMs);
    signal?.addEventListener('abort', cancel, { once: true });
    this.#d.router.started(target.name);
    const guard: Guard = {
      markBroken: () => {
        broken = true;
      },
      translate: (error) => {
        if (isConnectionError(error)) broken = true;
        if (timedOut) {
          return new PoolpilotError(
            ErrorCode.QueryTimeout,
            `the statement ran longer than ${timeoutMs} ms and was cancelled on ${target.name}`,
            {
              cause: error,
              details: { target: target.name, timeoutMs },
            },
          );
        }
        if (signal?.aborted) return gone();
        return fromPgError(error, target.name);
      },
    };
    try {
      await work(lease, guard);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', cancel);
      this.#d.router.finished(target.name);
      // A cancel that raced a finishing statement could hit the next one: retire the connection.
      lease.release(broken || cancelSent);
    }
  }

  async #recordWrite(client: pg.Client, tables: string[]): Promise<void> {
    if (this.#d.cluster.replicas.length === 0) return;
    const { rows } = await client.query(CURRENT_WAL_LSN).catch(() => ({ rows: [{ lsn: null }] }));
    this.#d.freshness.record(tables, (rows[0]?.lsn as string | null) ?? null);
  }

  #observe(analysis: Analysis, durationMs: number, r: CappedResult, target: Target, sql: string): void {
    const sink = this.#d.observations;
    if (!sink) return;
    try {
      sink.record(
        analysis.fingerprint || sql.slice(0, 64),
        analysis.normalized || sql.slice(0, 1000),
        durationMs,
        r.rowCount ?? r.rows.length,
      );
    } catch (error) {
      this.#d.log.warn({ err: error, target: target.name }, 'recording an observation failed');
    }
  }

  #result(r: CappedResult, durationMs: number, analysis: Analysis, route: Route): ExecuteResult {
    return {
      rows: r.rows,
      fields: r.fields,
      rowCount: r.rowCount ?? r.rows.length,
      command: r.command,
      durationMs,
      truncated: r.truncated,
      route: route.class,
      target: route.target,
      queued: false,
      queueWaitMs: 0,
      reason: route.reason,
      complexity: analysis.complexity,
    };
  }
}

/** One statement on its way through: what `#routed` and `#runOn` need besides the route. */
interface Job {
  sql: string;
  params: unknown[];
  analysis: Analysis;
  timeoutMs: number;
  maxRows: number;
  signal: AbortSignal | undefined;
}

interface Guard {
  markBroken(): void;
  /** The contract error for what pg threw (timeout and client-gone included). */
  translate(error: unknown): PoolpilotError;
}
