import type { Analysis, Analyzer } from '../analyzer/index.js';
import { ErrorCode, isPoolpilotError, PoolpilotError } from '../errors.js';
import type { Logger } from '../logger.js';
import { type Cluster, cancelled, type Lease, parseLsn, type Target } from '../pool/index.js';
import type { ComplexQueue } from '../queue/index.js';
import {
  type Consistency,
  formatLsn,
  hintedAfterLsn,
  laterLsn,
  parseAfterLsn,
  type ReadYourWrites,
  type ReplayWatch,
  type Route,
  type RouteNeed,
  type Router,
  type WalPosition,
} from '../router/index.js';
import { atStatement, checkMaxRows, checkStatement, checkTimeout } from './checks.js';
import { CollectingSink, type ExecuteResult } from './result.js';
import { BEGIN, COMMIT, CURRENT_WAL_LSN, ROLLBACK } from './sql.js';

export interface ExecuteOptions {
  /** At most DB_STATEMENT_TIMEOUT; the statement is cancelled on the server when it passes. */
  timeoutMs?: number;
  /** Aborted when the caller goes away: the running statement is cancelled on the server. */
  signal?: AbortSignal;
  /** At most EXECUTE_MAX_ROWS. */
  maxRows?: number;
  /**
   * A causal token (an `lsn` an earlier call returned): only a target that has replayed it may
   * serve the statement. Bad text is BAD_USER_INPUT.
   */
  afterLsn?: string | null;
}

export interface Statement {
  sql: string;
  params?: unknown[];
}

export interface TransactionResult {
  results: ExecuteResult[];
  durationMs: number;
  target: string;
  /** The primary's WAL position after the commit, when the transaction wrote and replicas exist. */
  lsn: string | null;
  /** How afterLsn was honoured; null without one. */
  consistency: Consistency | null;
}

export interface SessionLimits {
  statementTimeoutMs: number;
  maxRows: number;
  /** Bytes of row data one result may hold (EXECUTE_MAX_BYTES). */
  maxBytes: number;
}

/** What every session of one poolpilot shares. */
export interface SessionDeps {
  cluster: Cluster;
  analyzer: Analyzer;
  router: Router;
  queue: ComplexQueue;
  freshness: ReadYourWrites;
  limits: SessionLimits;
  /** The primary's WAL position after a forwarded write, shared by concurrent writers. */
  walPosition: WalPosition;
  /** Fresh replica replay positions while a write or a causal token waits for them. */
  replay: ReplayWatch;
  /** How long a read with afterLsn waits for a replica to replay it before the primary serves it (CAUSAL_WAIT_MS). */
  causalWaitMs: number;
  log: Logger;
  /** Told of every statement a session completed, with its route (metrics, logs). */
  executed(result: ExecuteResult, sql: string): void;
}

/**
 * Where a forwarded statement (a wire client's) was placed: the connection it holds, the route
 * and why, and its slot in the complex-query queue, held until the server says it is done.
 */
export interface Placement {
  lease: Lease;
  route: Route;
  analysis: Analysis | null;
  queueWaitMs: number;
  leaveQueue: ((ok: boolean) => void) | null;
  /** How a causal token was honoured; null without one. */
  consistency: Consistency | null;
}

/** One statement on its way through: what running it needs besides the route. */
interface Job {
  sql: string;
  params: unknown[];
  analysis: Analysis;
  timeoutMs: number;
  maxRows: number;
  maxBytes: number;
  signal: AbortSignal | undefined;
  /** From the afterLsn option or the statement's comment hint, whichever is later. */
  afterLsn: bigint | null;
}

/**
 * One caller's conversation with the database: a GraphQL call, a wire client. Statements are
 * analyzed, routed and (complex ones) queued, then run on a leased connection; inside a
 * transaction the session keeps its lease (pinned to the primary) until COMMIT or ROLLBACK, and
 * gives it back the moment the server reports the transaction over.
 */
export class Session {
  readonly #d: SessionDeps;
  /** Whose writes this session's reads must see: its own name, or null for unnamed callers (one shared scope). */
  readonly name: string | null;
  /** Held from BEGIN until the server says the transaction is over. */
  #pinned: Lease | null = null;
  /** The WAL position after this session's last write (null: none yet, or no replica to need it). */
  #lastLsn: Promise<string | null> = Promise.resolve(null);

  /** The session's name is its own (a wire client's): its writes are forgotten when it closes. */
  readonly #ownsName: boolean;

  constructor(deps: SessionDeps, name: string | null = null, options: { ownsName?: boolean } = {}) {
    this.#d = deps;
    this.name = name;
    this.#ownsName = options.ownsName === true && name !== null;
  }

  /** The WAL position after this session's last finished write, once known; null when none. */
  lastLsn(): Promise<string | null> {
    return this.#lastLsn;
  }

  get inTransaction(): boolean {
    return this.#pinned !== null;
  }

  /** One statement: analyze → check → route → (queue) → run; rows collected up to the caps. */
  async execute(sql: string, params: unknown[] = [], options: ExecuteOptions = {}): Promise<ExecuteResult> {
    const job = await this.#job(sql, params, options, 'statement');
    const result = await this.#dispatch(job, options.signal);
    this.#d.router.taken.add({
      class: result.route,
      target: result.target,
      queued: result.queued,
      reason: result.reason,
    });
    this.#d.executed(result, sql);
    return result;
  }

  /** Several statements atomically on the primary: all commit, or none. */
  async transaction(statements: Statement[], options: ExecuteOptions = {}): Promise<TransactionResult> {
    if (statements.length === 0) throw new PoolpilotError(ErrorCode.BadUserInput, 'no statements given');
    const afterLsn = options.afterLsn == null ? null : parseAfterLsn(options.afterLsn);
    // Every statement is judged before anything is sent.
    const jobs: Job[] = [];
    for (const [i, s] of statements.entries()) {
      try {
        jobs.push(await this.#job(s.sql, s.params ?? [], options, 'transaction'));
      } catch (error) {
        throw atStatement(error, i);
      }
    }
    const started = performance.now();
    await this.begin(options.signal);
    const target = this.#requirePinned().target;
    const results: ExecuteResult[] = [];
    let index = 0;
    let lsn: string | null = null;
    try {
      for (; index < jobs.length; index++) {
        results.push(await this.#runPinned(jobs[index]!, 'in a transaction: the primary'));
      }
      const writes = jobs.filter((j) => j.analysis.writes !== false);
      lsn = await this.commit(writes.length > 0 ? writes.flatMap((j) => j.analysis.tables) : null);
    } catch (error) {
      await this.rollback();
      const demoted = readOnlyRefusal(error) ? await this.#demotedByName(target, error) : error;
      throw atStatement(demoted, index);
    }
    // Hints in the statements count too; on the primary every committed position is there already.
    const token = jobs.reduce((lsn, j) => laterLsn(lsn, j.afterLsn), afterLsn);
    return {
      results,
      durationMs: performance.now() - started,
      target,
      lsn,
      consistency:
        token === null
          ? null
          : { afterLsn: formatLsn(token), servedAt: target, waitedMs: 0, reason: 'PRIMARY' },
    };
  }

  /** Starts a transaction on the primary and pins its connection to this session. */
  async begin(signal?: AbortSignal): Promise<void> {
    if (this.#pinned) throw new PoolpilotError(ErrorCode.BadUserInput, 'a transaction is already open');
    const lease = await this.#acquire(this.#d.cluster.writer(), signal);
    try {
      await lease.query(BEGIN, undefined, { signal });
    } catch (error) {
      lease.release();
      throw error;
    }
    this.#pinned = lease;
  }

  /**
   * Commits and gives the connection back; `writtenTables` (empty: unknown tables) are recorded
   * for read-your-writes, null when nothing was written. Returns the WAL position after the
   * commit when it wrote and a replica exists, else null.
   */
  async commit(writtenTables: string[] | null = null): Promise<string | null> {
    const lease = this.#requirePinned();
    try {
      await lease.query(COMMIT);
      return writtenTables ? await this.#recordWrite(lease, writtenTables) : null;
    } finally {
      this.#unpin();
    }
  }

  /** Rolls back (best effort) and gives the connection back; one that will not roll back is closed. */
  async rollback(): Promise<void> {
    const lease = this.#pinned;
    if (!lease) return;
    try {
      await lease.query(ROLLBACK);
    } catch {
      lease.markBroken();
    } finally {
      this.#unpin();
    }
  }

  /**
   * Whether `target` has replayed WAL position `lsn`, waiting up to CAUSAL_WAIT_MS for it: the
   * primary always has; a replica once it is seen past it.
   */
  async hasReplayed(target: string, lsn: bigint, signal?: AbortSignal): Promise<boolean> {
    const t = this.#d.cluster.target(target);
    if (!t || t.role === 'primary') return true;
    const replayed = () => (parseLsn(t.replication?.replayLsn) ?? -1n) >= lsn;
    if (replayed()) return true;
    await this.#d.replay.waitFor(lsn, this.#d.causalWaitMs, signal);
    return replayed();
  }

  /** Ends the session: an open transaction is rolled back. */
  async close(): Promise<void> {
    if (this.#ownsName) this.#d.freshness.forget(this.name!);
    await this.rollback();
  }

  /**
   * Judges a forwarded statement without the planner on the caller's path (a shape seen for the
   * first time is planned in the background). Null when it cannot be judged: such a statement
   * goes to the primary and leaves its connection to be reset.
   */
  async judge(sql: string): Promise<Analysis | null> {
    try {
      return await this.#d.analyzer.analyze(sql, { plan: 'background' });
    } catch {
      return null;
    }
  }

  /**
   * Finds a connection for a forwarded statement that starts a unit of work: writes, locks,
   * transactions and anything unjudged on the primary; `BEGIN READ ONLY` and reads by their
   * complexity as `executeQuery` routes them, complex ones after a queue slot.
   */
  async place(
    analysis: Analysis | null,
    sql: string,
    signal?: AbortSignal,
    afterLsn: bigint | null = null,
  ): Promise<Placement> {
    const need: RouteNeed = { session: this.name, afterLsn: laterLsn(afterLsn, hintedAfterLsn(sql)) };
    const decide = (): Route => {
      if (analysis === null)
        return {
          class: 'FAST',
          target: this.#d.cluster.writerName(),
          queued: false,
          reason: 'could not be judged: the primary',
        };
      if (analysis.transactionControl)
        return readOnlyBegin(analysis, sql)
          ? this.#d.router.decide(
              {
                ...analysis,
                transactionControl: false,
                writes: false,
                route: 'MEDIUM',
                // Its reads are not known yet: only a replica with every recent write may serve it.
                tables: this.#d.freshness.recentTables(this.name),
              },
              need,
            )
          : {
              class: analysis.route,
              target: this.#d.cluster.writerName(),
              queued: false,
              reason: 'a transaction: the primary',
            };
      return this.#d.router.decide(analysis, need);
    };
    const waited = await this.#awaitReplay(decide, need.afterLsn, signal);
    let route = waited.route;
    let slot: { waitMs: number; leave: (ok: boolean) => void } | null = null;
    if (route.queued) {
      slot = await this.#d.queue.enter(signal);
      route = decide(); // replicas may have come or gone while it waited
    }
    try {
      let target = this.#d.cluster.resolve(route.target);
      let lease: Lease;
      try {
        lease = await this.#acquire(target, signal);
      } catch (error) {
        if (target.role !== 'replica' || !isPoolpilotError(error) || error.code !== ErrorCode.DbUnavailable)
          throw error;
        target = this.#d.cluster.writer();
        route = { ...route, target: target.name, reason: `${route.target} unavailable: the primary` };
        lease = await this.#acquire(target, signal);
      }
      if (analysis === null || mayLeaveState(analysis)) lease.markDirty();
      this.#d.router.taken.add(route);
      return {
        lease,
        route,
        analysis,
        queueWaitMs: slot?.waitMs ?? 0,
        leaveQueue: slot?.leave ?? null,
        consistency: consistencyOf(need.afterLsn, route, waited.waitedMs),
      };
    } catch (error) {
      slot?.leave(false);
      throw error;
    }
  }

  /**
   * The forwarded unit of work is over (the server reported no transaction and nothing is
   * outstanding): the connection goes back, the queue slot is freed, and a write is remembered
   * for read-your-writes with a WAL position read after it.
   */
  finish(placement: Placement, outcome: { ok: boolean; wrote: boolean; tables: string[] }): void {
    placement.leaveQueue?.(outcome.ok);
    placement.lease.release();
    if (outcome.wrote && this.#d.cluster.replicas.length > 0) {
      const tables = outcome.tables;
      // The client already has its ReadyForQuery and may read at once, before the WAL position
      // comes back: until it does, the write counts as not replayed anywhere (reads on the primary).
      this.#d.freshness.record(this.name, tables, null);
      const lsn = this.#d.walPosition.after().then((lsn) => {
        this.#d.freshness.record(this.name, tables, lsn);
        return lsn;
      });
      this.#lastLsn = lsn;
    }
  }

  /**
   * Routes with `decide`; when only a causal token keeps the read off the replicas, waits up to
   * CAUSAL_WAIT_MS for one to replay it and routes again.
   */
  async #awaitReplay(
    decide: () => Route,
    afterLsn: bigint | null,
    signal: AbortSignal | undefined,
  ): Promise<{ route: Route; waitedMs: number }> {
    const route = decide();
    if (!route.awaitingReplay || afterLsn === null || this.#d.causalWaitMs <= 0)
      return { route, waitedMs: 0 };
    const started = performance.now();
    await this.#d.replay.waitFor(afterLsn, this.#d.causalWaitMs, signal);
    if (signal?.aborted) throw cancelled();
    return { route: decide(), waitedMs: performance.now() - started };
  }

  /**
   * A forwarded statement was refused as read-only (25006) by a server taken for the primary: it
   * may have been demoted since its last check, so it is checked again now. The client already has
   * PostgreSQL's own error: nothing was written.
   */
  refusedAsReadOnly(placement: Placement): void {
    const target = this.#d.cluster.target(placement.route.target);
    if (target && target.role === 'primary') void this.#d.cluster.health.check(target);
  }

  async #job(
    sql: string,
    params: unknown[],
    options: ExecuteOptions,
    mode: 'statement' | 'transaction',
  ): Promise<Job> {
    const { limits } = this.#d;
    const timeoutMs = checkTimeout(options.timeoutMs, limits.statementTimeoutMs);
    const maxRows = checkMaxRows(options.maxRows, limits.maxRows);
    const given = options.afterLsn == null ? null : parseAfterLsn(options.afterLsn);
    const afterLsn = laterLsn(given, hintedAfterLsn(sql));
    const analysis = await this.#d.analyzer.analyze(sql);
    checkStatement(analysis, params, mode);
    return {
      sql,
      params,
      analysis,
      timeoutMs,
      maxRows,
      maxBytes: limits.maxBytes,
      signal: options.signal,
      afterLsn,
    };
  }

  async #dispatch(job: Job, signal: AbortSignal | undefined): Promise<ExecuteResult> {
    if (this.#pinned) return this.#runPinned(job, 'in a transaction: the primary');
    const need: RouteNeed = { session: this.name, afterLsn: job.afterLsn };
    const decide = () => this.#d.router.decide(job.analysis, need);
    const { route, waitedMs } = await this.#awaitReplay(decide, job.afterLsn, signal);
    if (!route.queued) return this.#routed(route, job, waitedMs);
    const { value, waitMs } = await this.#d.queue.run(
      // Decided again when the slot comes: replicas may have come or gone while it waited.
      () => this.#routed(decide(), job, waitedMs),
      signal,
    );
    return { ...value, queued: true, queueWaitMs: waitMs };
  }

  async #routed(route: Route, job: Job, waitedMs: number): Promise<ExecuteResult> {
    const target = this.#d.cluster.resolve(route.target);
    try {
      const result = await this.#runOn(target, route, job);
      return { ...result, consistency: consistencyOf(job.afterLsn, route, waitedMs) };
    } catch (error) {
      if (readOnlyRefusal(error)) throw await this.#demoted(target, error);
      // A read can always be served by the primary; the health monitor will catch up.
      if (target.role === 'replica' && isPoolpilotError(error) && error.code === ErrorCode.DbUnavailable) {
        this.#d.log.warn(
          { target: target.name, err: error.message },
          'replica unavailable: read retried on the primary',
        );
        const primary = this.#d.cluster.writer();
        const retry: Route = {
          ...route,
          target: primary.name,
          reason: `${target.name} unavailable (${error.message}): retried on the primary`,
        };
        const result = await this.#runOn(primary, retry, job);
        return { ...result, consistency: consistencyOf(job.afterLsn, retry, waitedMs) };
      }
      throw error;
    }
  }

  async #runOn(target: Target, route: Route, job: Job): Promise<ExecuteResult> {
    const lease = await this.#acquire(target, job.signal);
    try {
      const result = await this.#run(lease, route, job);
      if (job.analysis.writes !== false && target.role === 'primary')
        result.lsn = await this.#recordWrite(lease, job.analysis.tables);
      return result;
    } finally {
      lease.release();
    }
  }

  async #runPinned(job: Job, reason: string): Promise<ExecuteResult> {
    const lease = this.#requirePinned();
    const route: Route = { class: job.analysis.route, target: lease.target, queued: false, reason };
    const result = await this.#run(lease, route, job);
    return { ...result, consistency: consistencyOf(job.afterLsn, route, 0) };
  }

  /** Runs the statement on `lease` with the caps, and marks the lease for a reset if it may leave state. */
  async #run(lease: Lease, route: Route, job: Job): Promise<ExecuteResult> {
    const { analysis } = job;
    if (mayLeaveState(analysis)) lease.markDirty();
    const sink = new CollectingSink(job.maxRows);
    const r = await lease.stream(job.sql, job.params, sink, {
      maxRows: job.maxRows + 1,
      maxBytes: job.maxBytes,
      timeoutMs: job.timeoutMs,
      signal: job.signal,
      shape: analysis.fingerprint
        ? { fingerprint: analysis.fingerprint, normalized: analysis.normalized }
        : { fingerprint: job.sql.slice(0, 64), normalized: job.sql.slice(0, 1000) },
    });
    const overRows = r.suspended || sink.overRows;
    const truncated = overRows || r.overBytes;
    return {
      rows: sink.rows,
      fields: sink.fieldList,
      rowCount: truncated ? sink.rows.length : (r.rowCount ?? sink.rows.length),
      command: r.command,
      durationMs: r.durationMs,
      truncated,
      truncatedBy: r.overBytes ? 'bytes' : overRows ? 'rows' : null,
      bytes: r.bytes,
      route: route.class,
      target: route.target,
      queued: false,
      queueWaitMs: 0,
      reason: route.reason,
      complexity: analysis.complexity,
      lsn: null,
      consistency: null,
    };
  }

  async #acquire(target: Target, signal: AbortSignal | undefined): Promise<Lease> {
    if (signal?.aborted) throw cancelled();
    const lease = await target.pool.acquire();
    if (signal?.aborted) {
      lease.release();
      throw cancelled(); // went away while waiting for a connection
    }
    return lease;
  }

  /**
   * After a write on the primary: the WAL position a replica must have replayed to serve it,
   * remembered for this session's reads and returned as the caller's causal token.
   */
  async #recordWrite(lease: Lease, tables: string[]): Promise<string | null> {
    if (this.#d.cluster.replicas.length === 0) return null;
    const lsn = await lease
      .query(CURRENT_WAL_LSN)
      .then((r) => (r.rows[0]?.lsn as string | null) ?? null)
      .catch(() => null);
    this.#d.freshness.record(this.name, tables, lsn);
    this.#lastLsn = Promise.resolve(lsn);
    return lsn;
  }

  /**
   * A statement was refused as read-only (SQLSTATE 25006). The target is checked again at once:
   * when it no longer reports being the primary (demoted or made read-only since its last check),
   * the caller gets DB_UNAVAILABLE (nothing was written: the statement's transaction aborted), and
   * the next write finds the new primary. It is not retried there: whether the statement did
   * anything outside the database before the refusal cannot be known. A target still reporting
   * primary refused it for the caller's own reasons (SET transaction_read_only...): the error
   * stands as PostgreSQL gave it.
   */
  async #demoted(target: Target, error: PoolpilotError): Promise<PoolpilotError> {
    await this.#d.cluster.health.check(target);
    if (target.detectedRole === 'primary') return error;
    this.#d.log.warn({ target: target.name, err: error.message }, 'the primary refused a write as read-only');
    return new PoolpilotError(
      ErrorCode.DbUnavailable,
      `${target.name} is read-only now (it was demoted or made read-only): nothing was written; ${error.message}`,
      { cause: error, details: { target: target.name } },
    );
  }

  #demotedByName(name: string, error: PoolpilotError): Promise<PoolpilotError> {
    const target = this.#d.cluster.target(name);
    return target ? this.#demoted(target, error) : Promise.resolve(error);
  }

  #requirePinned(): Lease {
    if (!this.#pinned) throw new PoolpilotError(ErrorCode.BadUserInput, 'no transaction is open');
    return this.#pinned;
  }

  #unpin(): void {
    const lease = this.#pinned;
    this.#pinned = null;
    lease?.release();
  }
}

/**
 * Whatever may outlive the statement on its connection (settings, temp tables, locks, LISTEN,
 * prepared statements, a function, trigger or DO block that does any of these, a statement that
 * could not be judged) has the connection reset before anyone else gets it.
 */
export function mayLeaveState(analysis: Analysis): boolean {
  return analysis.sessionState || analysis.writes !== false || analysis.parseError !== null;
}

/** How a causal token was honoured by `route`: null without one. */
function consistencyOf(afterLsn: bigint | null, route: Route, waitedMs: number): Consistency | null {
  if (afterLsn === null) return null;
  const onReplica = route.target !== 'primary';
  const reason = onReplica
    ? waitedMs > 0
      ? 'WAITED'
      : 'REPLICA_CAUGHT_UP'
    : route.wantedReplica
      ? 'PRIMARY_FALLBACK'
      : 'PRIMARY';
  return { afterLsn: formatLsn(afterLsn), servedAt: route.target, waitedMs, reason };
}

/** `BEGIN READ ONLY` / `START TRANSACTION READ ONLY` alone: a transaction a replica can serve. */
function readOnlyBegin(analysis: Analysis, sql: string): boolean {
  return (
    analysis.statementCount === 1 &&
    /^\s*(BEGIN|START\s+TRANSACTION)\b/i.test(sql) &&
    /\bREAD\s+ONLY\b/i.test(sql) &&
    !/\bREAD\s+WRITE\b/i.test(sql)
  );
}

/** PostgreSQL's "cannot execute … in a read-only transaction" (25006), as the core reports it. */
function readOnlyRefusal(error: unknown): error is PoolpilotError {
  return isPoolpilotError(error) && error.code === ErrorCode.BadSql && error.details.sqlstate === '25006';
}
