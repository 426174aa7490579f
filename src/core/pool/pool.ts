import { ErrorCode, fromPgError, PoolpilotError } from '../errors.js';
import { type Histogram, type LatencySummary, WindowedHistogram } from '../histogram.js';
import type { FieldDescription } from './backend-messages.js';
import { Lease, type LeaseHooks } from './lease.js';
import { ServerConnection } from './server-connection.js';

/**
 * A warm pool of connections to one PostgreSQL server, after pg-pool's shape: idle connections
 * and waiting callers are two queues, and one scheduler (`#pulse`) runs after every change to
 * hand idle connections to waiters, open new ones up to `max`, keep `min` warm and close the
 * surplus. A connection comes back clean: whatever session state a caller may have left on it is
 * reset before anyone else gets it (see `#checkInFrom`). Every figure in `state()` is counted or
 * timed here, never estimated.
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
  /** Connections reset on check-in because a caller left session state on them. */
  resets: number;
  /** Of `active`: connections being reset after use, lent to no one (PgBouncer's sv_tested). */
  resetting: number;
  /** PAUSE (pausePool): no connection is handed out until RESUME; callers wait. */
  paused: boolean;
}

/** One server connection of the pool as SHOW SERVERS lists it. */
export interface ServerConnectionInfo {
  /** The server's process id (pg_stat_activity.pid). */
  pid: number;
  state: 'active' | 'idle' | 'tested';
  host: string;
  port: number;
  localAddress: string;
  localPort: number;
  connectedAt: Date;
  /** When it last changed hands (was lent or came back). */
  since: Date;
  /** The TLS protocol and cipher, e.g. TLSv1.3/TLS_AES_256_GCM_SHA384; '' in plaintext. */
  tls: string;
}

export interface QueryOptions {
  /** Cancels the statement on the server when aborted (a client that went away). */
  signal?: AbortSignal;
}

export interface QueryResult {
  rows: Record<string, unknown>[];
  rowCount: number;
  fields: FieldDescription[];
  command: string;
  durationMs: number;
}

/** What a finished statement is reported with: its text, and its shape when it was analyzed. */
export interface StatementRecord {
  text: string;
  durationMs: number;
  error: unknown;
  rows: number;
  shape?: { fingerprint: string; normalized: string };
}

/**
 * Told of every hand-out and every finished statement, as they happen, so an exporter (metrics,
 * a slow-statement log, per-shape figures) can keep its own buckets. Observers must be cheap and
 * must not throw.
 */
export interface PoolObserver {
  acquired?(pool: string, waitMs: number): void;
  queried?(pool: string, durationMs: number, error: unknown, text: string): void;
  recorded?(pool: string, record: StatementRecord): void;
}

interface IdleItem {
  connection: ServerConnection;
  since: number;
}

interface Waiter {
  enqueuedAt: number;
  resolve: (lease: Lease) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** How a connection came back: whether it can be trusted, and whether it needs a reset. */
export interface Return {
  broken: boolean;
  /** The caller did something whose session state may outlive it. */
  dirty: boolean;
}

/**
 * `DISCARD ALL` brings a session back to its state at login in one statement (settings, temp
 * tables, prepared statements, cursors, LISTEN, advisory locks, cached plans); in a transaction
 * it cannot run, so an open one is rolled back first.
 */
const RESET = 'DISCARD ALL';
const ROLLBACK = 'ROLLBACK';

export class Pool {
  readonly name: string;
  #options: PoolOptions;
  readonly #connectionString: string;
  readonly #idle: IdleItem[] = [];
  readonly #busy = new Set<ServerConnection>();
  /** Connections opened before the last RECONNECT: closed as soon as they are free. */
  readonly #retired = new WeakSet<ServerConnection>();
  #paused = false;
  /** PAUSE callers waiting for the connections in use to come back. */
  #pauseWaiters: (() => void)[] = [];
  readonly #waiters: Waiter[] = [];
  #connecting = 0;
  /** Connections told to close whose server process may not have exited yet. */
  #closing = 0;
  /** The most this pool may hold now, below `max` (a share of a fleet-wide budget); Infinity: none. */
  #ceiling = Number.POSITIVE_INFINITY;
  #resetting = 0;
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
  #resets = 0;
  /** Called when opening a connection fails, so health checking can react before its next tick. */
  onConnectError: ((error: Error) => void) | null = null;
  readonly #observers = new Set<PoolObserver>();
  readonly #hooks: LeaseHooks = {
    record: (r) => this.#record(r),
    release: (connection, how) => this.#release(connection, how),
  };

  constructor(name: string, connection: { connectionString?: string }, options: PoolOptions) {
    this.name = name;
    this.#options = { ...options };
    if (!connection.connectionString) throw new Error(`pool ${name}: a connection string is required`);
    this.#connectionString = connection.connectionString;
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

  /** `max`, or the ceiling when that is lower. */
  get #max(): number {
    return Math.min(this.#options.max, this.#ceiling);
  }

  get #min(): number {
    return Math.min(this.#options.min, this.#max);
  }

  /**
   * Server connections that may still exist: open, opening, and told to close but not yet gone
   * (the server's process exits, and leaves pg_stat_activity, before its socket closes).
   */
  get serverConnections(): number {
    return this.totalCount + this.#closing;
  }

  /**
   * Caps the pool below `max` at runtime (0 allowed: callers wait). Lowering it closes idle
   * connections above it at once and busy ones as they come back; raising it lets the pool grow.
   */
  limit(ceiling: number): void {
    if (!(ceiling >= 0)) throw new RangeError(`pool ceiling must be >= 0, got ${ceiling}`);
    this.#ceiling = ceiling;
    this.#pulse();
  }

  /** Leased connections plus waiting callers: what a fleet-wide budget shares out by. */
  get demand(): number {
    return this.#busy.size + this.#waiters.length;
  }

  /** Leased connections plus waiting callers, per connection allowed: what "least busy" compares. */
  get load(): number {
    return (this.#busy.size + this.#waiters.length) / Math.max(1, this.#max);
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
    for (const item of this.#idle.splice(0)) this.#destroy(item.connection);
    // Forwarded work stuck on the silent server ends with an error; its lease returns it broken.
    for (const connection of [...this.#busy]) connection.abandonIfSilent(this.#options.connectionTimeoutMs);
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
    // The common case under load: a connection is free and nobody is ahead. No timer, no waiter.
    if (this.#waiters.length === 0 && this.#idle.length > 0 && !this.#paused) {
      const connection = this.#idle.pop()!.connection;
      this.#busy.add(connection);
      connection.lentAt = Date.now();
      this.#acquireWait.record(0);
      for (const observer of this.#observers) observer.acquired?.(this.name, 0);
      return Promise.resolve(new Lease(this.name, connection, this.#hooks));
    }
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
                `(${this.#busy.size} busy of max ${this.#max}, ${this.#waiters.length} still waiting` +
                `${this.#max === 0 ? '; this instance holds no share of the connection budget yet' : ''})`,
              { details: { target: this.name } },
            ),
          );
        }, this.#options.connectionTimeoutMs),
      };
      this.#waiters.push(waiter);
      this.#pulse();
    });
  }

  /**
   * PgBouncer's PAUSE: from now on no connection is handed out (callers queue, and still give
   * up after connectionTimeoutMs); resolves once every connection lent out has come back.
   */
  pause(): Promise<void> {
    this.#paused = true;
    return new Promise<void>((resolve) => {
      this.#pauseWaiters.push(resolve);
      this.#pulse();
    });
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Hands out connections again; callers that queued meanwhile are served in order. */
  resume(): void {
    this.#paused = false;
    for (const resolve of this.#pauseWaiters.splice(0)) resolve();
    this.#pulse();
  }

  /**
   * PgBouncer's RECONNECT: every connection open now is closed, idle ones at once, lent ones
   * when they come back; new ones are opened as needed. Returns how many were retired.
   */
  reconnect(): number {
    let count = 0;
    for (const item of this.#idle) {
      this.#retired.add(item.connection);
      count += 1;
    }
    for (const connection of this.#busy) {
      this.#retired.add(connection);
      count += 1;
    }
    for (const item of this.#idle.splice(0)) this.#destroy(item.connection);
    this.#pulse();
    return count;
  }

  /** Every open connection (idle, lent, being reset), for SHOW SERVERS. */
  connections(): ServerConnectionInfo[] {
    const info = (connection: ServerConnection, state: ServerConnectionInfo['state'], since: number) => ({
      pid: connection.processID,
      state,
      host: connection.host,
      port: connection.port,
      localAddress: connection.localAddress,
      localPort: connection.localPort,
      connectedAt: new Date(connection.connectedAt),
      since: new Date(since),
      tls: connection.tlsDescription,
    });
    return [
      ...[...this.#busy].map((c) => info(c, c.lentAt > 0 ? 'active' : 'tested', c.lentAt || Date.now())),
      ...this.#idle.map((item) => info(item.connection, 'idle', item.since)),
    ];
  }

  /** Acquire, run one statement, release. */
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
      min: this.#min,
      max: this.#max,
      utilization: this.#max === 0 ? (active > 0 ? 100 : 0) : Math.min(100, (active / this.#max) * 100),
      acquireWait: this.#acquireWait.summary(),
      queryLatency: this.#queryLatency.summary(),
      queries: this.#queries,
      errors: this.#errors,
      timeouts: this.#timeouts,
      acquireTimeouts: this.#acquireTimeouts,
      connectionsOpened: this.#opened,
      connectionsClosed: this.#closed,
      connectErrors: this.#connectErrors,
      resets: this.#resets,
      resetting: this.#resetting,
      paused: this.#paused,
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
    for (const resolve of this.#pauseWaiters.splice(0)) resolve();
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new PoolpilotError(ErrorCode.DbUnavailable, `pool ${this.name} is closing`));
    }
    await Promise.all(this.#idle.splice(0).map((item) => this.#destroy(item.connection)));
    const deadline = Date.now() + graceMs;
    while ((this.#busy.size > 0 || this.#connecting > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await Promise.all([...this.#busy].map((connection) => this.#destroy(connection)));
  }

  /** Counts a finished statement and tells the observers; leases call it for every statement. */
  #record(record: StatementRecord): void {
    this.#queries += 1;
    this.#queryLatency.record(record.durationMs);
    for (const observer of this.#observers) {
      observer.queried?.(this.name, record.durationMs, record.error, record.text);
      observer.recorded?.(this.name, record);
    }
    if (record.error !== undefined) {
      this.#errors += 1;
      if ((record.error as { code?: string }).code === '57014') this.#timeouts += 1;
    }
  }

  #unavailableError(reason: string): PoolpilotError {
    return new PoolpilotError(ErrorCode.DbUnavailable, `${this.name} is down: ${reason}`, {
      details: { target: this.name },
    });
  }

  #pulse(): void {
    if (this.#ending) return;
    if (this.#paused && this.#busy.size === 0 && this.#pauseWaiters.length > 0) {
      for (const resolve of this.#pauseWaiters.splice(0)) resolve();
    }
    while (!this.#paused && this.#waiters.length > 0 && this.#idle.length > 0) {
      const waiter = this.#waiters.shift()!;
      const item = this.#idle.pop()!; // most recently used first: keeps the rest eligible for idle close
      this.#handOut(item.connection, waiter);
    }
    // Surplus after a shrink: close idle connections above max.
    while (this.totalCount > this.#max && this.#idle.length > 0) {
      this.#destroy(this.#idle.shift()!.connection);
    }
    if (this.#unavailable !== null) return;
    const wanted = Math.max(this.#min, this.#busy.size + (this.#paused ? 0 : this.#waiters.length));
    // Under a ceiling (a share of a budget), connections still closing count: their server
    // processes exist until the close completes.
    const closing = this.#ceiling === Number.POSITIVE_INFINITY ? 0 : this.#closing;
    while (this.totalCount + closing < Math.min(wanted, this.#max)) this.#open();
  }

  #handOut(connection: ServerConnection, waiter: Waiter): void {
    clearTimeout(waiter.timer);
    this.#busy.add(connection);
    connection.lentAt = Date.now();
    const waitMs = performance.now() - waiter.enqueuedAt;
    this.#acquireWait.record(waitMs);
    for (const observer of this.#observers) observer.acquired?.(this.name, waitMs);
    waiter.resolve(new Lease(this.name, connection, this.#hooks));
  }

  #open(): void {
    this.#connecting += 1;
    const connection = new ServerConnection({
      connectionString: this.#connectionString,
      applicationName: this.#options.applicationName,
      statementTimeoutMs: this.#options.statementTimeoutMs,
      connectTimeoutMs: this.#options.connectionTimeoutMs,
    });
    // An idle connection can be closed by the server at any time (restart, terminate).
    connection.onClose = () => this.#forget(connection);
    connection.connect().then(
      () => {
        this.#connecting -= 1;
        this.#opened += 1;
        if (this.#ending) {
          this.#destroy(connection);
          return;
        }
        this.#checkIn(connection);
      },
      (error: Error) => {
        this.#connecting -= 1;
        this.#connectErrors += 1;
        connection.destroy();
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

  /** A connection comes back from its lease: reused, reset first, or closed. */
  #release(connection: ServerConnection, how: Return): void {
    if (!this.#busy.has(connection)) return;
    connection.lentAt = 0;
    if (
      how.broken ||
      this.#retired.has(connection) ||
      connection.closed ||
      this.#ending ||
      this.totalCount > this.#max ||
      this.#unavailable !== null
    ) {
      this.#busy.delete(connection);
      this.#destroy(connection);
      this.#pulse();
      return;
    }
    const open = connection.transactionStatus !== 'I';
    if (!open && !how.dirty && !connection.parametersChanged) {
      this.#busy.delete(connection);
      this.#checkIn(connection);
      return;
    }
    // Reset off the caller's path: the connection stays counted as busy until it is clean.
    this.#resetting += 1;
    this.#resets += 1;
    const reset = async () => {
      if (connection.transactionStatus !== 'I') await connection.query(ROLLBACK);
      await connection.query(RESET);
      connection.statements.clear();
      connection.parametersChanged = connection.changedParameters().length > 0;
      if (connection.parametersChanged || connection.transactionStatus !== 'I')
        throw new Error('connection did not come back to its state at login');
    };
    reset().then(
      () => {
        this.#resetting -= 1;
        if (!this.#busy.delete(connection)) return;
        if (this.#ending || this.totalCount > this.#max || this.#retired.has(connection)) {
          this.#destroy(connection);
          this.#pulse();
        } else {
          this.#checkIn(connection);
        }
      },
      () => {
        this.#resetting -= 1;
        this.#busy.delete(connection);
        this.#destroy(connection);
        this.#pulse();
      },
    );
  }

  #checkIn(connection: ServerConnection): void {
    const waiter = this.#paused ? undefined : this.#waiters.shift();
    if (waiter) this.#handOut(connection, waiter);
    else this.#idle.push({ connection, since: Date.now() });
    this.#pulse();
  }

  #forget(connection: ServerConnection): void {
    const index = this.#idle.findIndex((item) => item.connection === connection);
    if (index !== -1) {
      this.#idle.splice(index, 1);
      this.#destroy(connection);
      this.#pulse();
    }
    // A leased connection's failure surfaces to its user; the lease releases it as broken.
  }

  #destroy(connection: ServerConnection): Promise<void> {
    this.#closed += 1;
    this.#closing += 1;
    return connection.end().finally(() => {
      this.#closing -= 1;
      if (this.#ceiling !== Number.POSITIVE_INFINITY) this.#pulse();
    });
  }

  #closeExpiredIdle(): void {
    const cutoff = Date.now() - this.#options.idleTimeoutMs;
    // Oldest first; never below min.
    while (this.#idle.length > 0 && this.totalCount > this.#min && this.#idle[0]!.since < cutoff) {
      this.#destroy(this.#idle.shift()!.connection);
    }
  }
}
