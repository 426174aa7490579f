import pg from 'pg';
import { ErrorCode, fromPgError, isConnectionError, PoolpilotError } from '../errors.js';
import { cancelBackend } from './cancel.js';
import { type Histogram, type LatencySummary, WindowedHistogram } from './histogram.js';

/**
 * A warm pool of connections to one PostgreSQL server, after pg-pool's shape: idle connections
 * and waiting callers are two queues, and one scheduler (`#pulse`) runs after every change to
 * hand idle connections to waiters, open new ones up to `max`, keep `min` warm and close the
 * surplus. Every figure in `state()` is counted or timed here, never estimated.
 */

export interface PoolOptions {
  min: number;
  max: number;
  idleTimeoutMs: number;
  connectionTimeoutMs: number;
  statementTimeoutMs: number;
  applicationName: string;
}

export interface PoolState {
  total: number;
  idle: number;
  active: number;
  connecting: number;
  waiting: number;
  /** How long the oldest waiting caller has waited so far (PgBouncer's maxwait). */
  maxWaitMs: number;
  min: number;
  max: number;
  /** active / max, 0..100. */
  utilization: number;
  acquireWait: LatencySummary;
  queryLatency: LatencySummary;
  queries: number;
  errors: number;
  timeouts: number;
  acquireTimeouts: number;
  connectionsOpened: number;
  connectionsClosed: number;
  connectErrors: number;
}

export interface QueryOptions {
  /** Cancels the statement on the server when aborted (a client that went away). */
  signal?: AbortSignal;
}

export interface QueryResult {
  rows: Record<string, unknown>[];
  rowCount: number;
  fields: { name: string; dataTypeID: number }[];
  command: string;
  durationMs: number;
}

interface IdleItem {
  client: pg.Client;
  since: number;
}

interface Waiter {
  enqueuedAt: number;
  resolve: (lease: Lease) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

type Connect = () => pg.Client;

/**
 * Told of every hand-out and every finished statement, as they happen, so an exporter (metrics,
 * a slow-statement log) can keep its own buckets. Observers must be cheap and must not throw.
 */
export interface PoolObserver {
  acquired?(pool: string, waitMs: number): void;
  queried?(pool: string, durationMs: number, error: unknown, text: string): void;
}

export class Pool {
  readonly name: string;
  #options: PoolOptions;
  readonly #newClient: Connect;
  readonly #idle: IdleItem[] = [];
  readonly #busy = new Set<pg.Client>();
  readonly #waiters: Waiter[] = [];
  #connecting = 0;
  #ending = false;
  /** Set while the target is known to be down: callers fail at once instead of queueing. */
  #unavailable: string | null = null;
  readonly #sweeper: NodeJS.Timeout;
  readonly #acquireWait = new WindowedHistogram();
  readonly #queryLatency = new WindowedHistogram();
  #queries = 0;
  #errors = 0;
  #timeouts = 0;
  #acquireTimeouts = 0;
  #opened = 0;
  #closed = 0;
  #connectErrors = 0;
  /** Called when opening a connection fails, so health checking can react before its next tick. */
  onConnectError: ((error: Error) => void) | null = null;
  readonly #observers = new Set<PoolObserver>();

  constructor(name: string, connection: pg.ClientConfig, options: PoolOptions) {
    this.name = name;
    this.#options = { ...options };
    this.#newClient = () =>
      new pg.Client({
        ...connection,
        application_name: options.applicationName,
        statement_timeout: this.#options.statementTimeoutMs,
        connectionTimeoutMillis: this.#options.connectionTimeoutMs,
      });
    this.#sweeper = setInterval(
      () => this.#closeExpiredIdle(),
      Math.max(250, Math.min(5_000, options.idleTimeoutMs / 2)),
    );
    this.#sweeper.unref();
  }

  /** Adds an observer; returns the function that removes it. */
  observe(observer: PoolObserver): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  get options(): Readonly<PoolOptions> {
    return this.#options;
  }

  get totalCount(): number {
    return this.#idle.length + this.#busy.size + this.#connecting;
  }

  /** Opens connections until `min` are there; called at start and whenever the target comes back. */
  warm(): void {
    this.#pulse();
  }

  /** Marks the target down: waiters fail now, idle connections are dropped, new callers fail fast. */
  markUnavailable(reason: string): void {
    this.#unavailable = reason;
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(this.#unavailableError(reason));
    }
    for (const item of this.#idle.splice(0)) this.#destroy(item.client);
  }

  markAvailable(): void {
    this.#unavailable = null;
    this.#pulse();
  }

  /** Changes the size live: nothing in flight is interrupted; surplus connections close as they free up. */
  resize(min: number, max: number): void {
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 0 || max < 1 || min > max) {
      throw new PoolpilotError(
        ErrorCode.BadUserInput,
        `invalid pool size min=${min} max=${max}: need 0 <= min <= max, max >= 1`,
      );
    }
    this.#options = { ...this.#options, min, max };
    this.#pulse();
  }

  acquire(): Promise<Lease> {
    if (this.#ending)
      return Promise.reject(new PoolpilotError(ErrorCode.DbUnavailable, `pool ${this.name} is closed`));
    if (this.#unavailable !== null) return Promise.reject(this.#unavailableError(this.#unavailable));
    return new Promise<Lease>((resolve, reject) => {
      const waiter: Waiter = {
        enqueuedAt: performance.now(),
        resolve,
        reject,
        timer: setTimeout(() => {
          const index = this.#waiters.indexOf(waiter);
          if (index === -1) return;
          this.#waiters.splice(index, 1);
          this.#acquireTimeouts += 1;
          reject(
            new PoolpilotError(
              ErrorCode.DbUnavailable,
              `no connection to ${this.name} within ${this.#options.connectionTimeoutMs} ms ` +
                `(${this.#busy.size} busy of max ${this.#options.max}, ${this.#waiters.length} still waiting)`,
              { details: { target: this.name } },
            ),
          );
        }, this.#options.connectionTimeoutMs),
      };
      this.#waiters.push(waiter);
      this.#pulse();
    });
  }

  /** Acquire, run one statement, release: the path every routed query takes. */
  async query(text: string, values?: unknown[], options: QueryOptions = {}): Promise<QueryResult> {
    const lease = await this.acquire();
    try {
      return await lease.query(text, values, options);
    } finally {
      lease.release();
    }
  }

  state(): PoolState {
    const active = this.#busy.size;
    const oldest = this.#waiters[0];
    return {
      total: this.totalCount,
      idle: this.#idle.length,
      active,
      connecting: this.#connecting,
      waiting: this.#waiters.length,
      maxWaitMs: oldest ? performance.now() - oldest.enqueuedAt : 0,
      min: this.#options.min,
      max: this.#options.max,
      utilization: Math.min(100, (active / this.#options.max) * 100),
      acquireWait: this.#acquireWait.summary(),
      queryLatency: this.#queryLatency.summary(),
      queries: this.#queries,
      errors: this.#errors,
      timeouts: this.#timeouts,
      acquireTimeouts: this.#acquireTimeouts,
      connectionsOpened: this.#opened,
      connectionsClosed: this.#closed,
      connectErrors: this.#connectErrors,
    };
  }

  /** Recent acquire-wait and query-latency samples, for totals across pools. */
  histograms(): { acquireWait: Histogram; queryLatency: Histogram } {
    return { acquireWait: this.#acquireWait.snapshot(), queryLatency: this.#queryLatency.snapshot() };
  }

  /** Closes every connection; waits for leased ones to come back (bounded by `graceMs`). */
  async end(graceMs = 5_000): Promise<void> {
    this.#ending = true;
    clearInterval(this.#sweeper);
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new PoolpilotError(ErrorCode.DbUnavailable, `pool ${this.name} is closing`));
    }
    await Promise.all(this.#idle.splice(0).map((item) => this.#destroy(item.client)));
    const deadline = Date.now() + graceMs;
    while ((this.#busy.size > 0 || this.#connecting > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await Promise.all([...this.#busy].map((client) => this.#destroy(client)));
  }

  #unavailableError(reason: string): PoolpilotError {
    return new PoolpilotError(ErrorCode.DbUnavailable, `${this.name} is down: ${reason}`, {
      details: { target: this.name },
    });
  }

  #pulse(): void {
    if (this.#ending) return;
    while (this.#waiters.length > 0 && this.#idle.length > 0) {
      const waiter = this.#waiters.shift()!;
      const item = this.#idle.pop()!; // most recently used first: keeps the rest eligible for idle close
      this.#handOut(item.client, waiter);
    }
    // Surplus after a shrink: close idle connections above max.
    while (this.totalCount > this.#options.max && this.#idle.length > 0) {
      this.#destroy(this.#idle.shift()!.client);
    }
    if (this.#unavailable !== null) return;
    const wanted = Math.max(this.#options.min, this.#busy.size + this.#waiters.length);
    while (this.totalCount < Math.min(wanted, this.#options.max)) this.#open();
  }

  #handOut(client: pg.Client, waiter: Waiter): void {
    clearTimeout(waiter.timer);
    this.#busy.add(client);
    const waitMs = performance.now() - waiter.enqueuedAt;
    this.#acquireWait.record(waitMs);
    for (const observer of this.#observers) observer.acquired?.(this.name, waitMs);
    waiter.resolve(new Lease(this, client));
  }

  #open(): void {
    this.#connecting += 1;
    const client = this.#newClient();
    // An idle connection can be closed by the server at any time; without a listener pg would
    // throw from an EventEmitter and take the process down.
    client.on('error', () => this.#forget(client));
    client.connect().then(
      () => {
        this.#connecting -= 1;
        this.#opened += 1;
        if (this.#ending) {
          this.#destroy(client);
          return;
        }
        this.#checkIn(client);
      },
      (error: Error) => {
        this.#connecting -= 1;
        this.#connectErrors += 1;
        // One failed connect fails one waiter, so a burst against a dead server fails fast
        // instead of piling up behind the connection timeout.
        const waiter = this.#waiters.shift();
        if (waiter) {
          clearTimeout(waiter.timer);
          waiter.reject(fromPgError(error, this.name));
        }
        this.onConnectError?.(error);
        if (this.#unavailable === null && this.#waiters.length > 0) setImmediate(() => this.#pulse());
      },
    );
  }

  /** Returns a connection to the pool (or closes it when it is broken or surplus). */
  release(client: pg.Client, broken: boolean): void {
    if (!this.#busy.delete(client)) return;
    if (broken || this.#ending || this.totalCount >= this.#options.max || this.#unavailable !== null) {
      this.#destroy(client);
      this.#pulse();
      return;
    }
    this.#checkIn(client);
  }

  #checkIn(client: pg.Client): void {
    const waiter = this.#waiters.shift();
    if (waiter) this.#handOut(client, waiter);
    else this.#idle.push({ client, since: Date.now() });
    this.#pulse();
  }

  /** Records a finished statement; called by leases. */
  recordQuery(durationMs: number, error: unknown, text = ''): void {
    this.#queries += 1;
    this.#queryLatency.record(durationMs);
    for (const observer of this.#observers) observer.queried?.(this.name, durationMs, error, text);
    if (error !== undefined) {
      this.#errors += 1;
      if ((error as { code?: string }).code === '57014') this.#timeouts += 1;
    }
  }

  #forget(client: pg.Client): void {
    const index = this.#idle.findIndex((item) => item.client === client);
    if (index !== -1) {
      this.#idle.splice(index, 1);
      this.#destroy(client);
      this.#pulse();
    }
    // A busy client's error surfaces through its running query; the lease releases it as broken.
  }

  #destroy(client: pg.Client): Promise<void> {
    this.#closed += 1;
    return client.end().catch(() => undefined);
  }

  #closeExpiredIdle(): void {
    const cutoff = Date.now() - this.#options.idleTimeoutMs;
    // Oldest first; never below min.
    while (this.#idle.length > 0 && this.totalCount > this.#options.min && this.#idle[0]!.since < cutoff) {
      this.#destroy(this.#idle.shift()!.client);
    }
  }
}

/** One borrowed connection. Release it exactly once; a broken connection is closed, not reused. */
export class Lease {
  readonly #pool: Pool;
  readonly client: pg.Client;
  #released = false;
  #broken = false;

  constructor(pool: Pool, client: pg.Client) {
    this.#pool = pool;
    this.client = client;
  }

  /** The server process id, for `pg_stat_activity` and cancellation. */
  get pid(): number {
    return (this.client as unknown as { processID: number }).processID;
  }

  /**
   * Runs one statement. With `values` (an empty array included) it goes through the extended
   * protocol, which refuses a string holding several statements; without, the simple protocol.
   */
  async query(text: string, values?: unknown[], options: QueryOptions = {}): Promise<QueryResult> {
    const started = performance.now();
    const onAbort = () => void cancelBackend(this.client).catch(() => undefined);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (options.signal?.aborted)
        throw new PoolpilotError(ErrorCode.QueryTimeout, 'query cancelled before it started');
      // Given values (even none), the extended protocol: exactly one statement, never a script.
      const answer: pg.QueryResult | pg.QueryResult[] =
        values === undefined
          ? await this.client.query(text)
          : await this.client.query({ text, values, queryMode: 'extended' } as pg.QueryConfig);
      // A simple-protocol script answers with one result per statement: the last one counts.
      const result = Array.isArray(answer) ? answer[answer.length - 1]! : answer;
      const durationMs = performance.now() - started;
      this.#pool.recordQuery(durationMs, undefined, text);
      return {
        rows: result.rows,
        rowCount: result.rowCount ?? result.rows.length,
        fields: (result.fields ?? []).map((f: pg.FieldDef) => ({ name: f.name, dataTypeID: f.dataTypeID })),
        command: result.command,
        durationMs,
      };
    } catch (error) {
      this.#pool.recordQuery(performance.now() - started, error, text);
      if (isConnectionError(error)) this.#broken = true;
      throw fromPgError(error, this.#pool.name);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  release(broken = false): void {
    if (this.#released) return;
    this.#released = true;
    this.#pool.release(this.client, broken || this.#broken);
  }
}
