import { ErrorCode, fromPgError, isConnectionError, PoolpilotError } from '../errors.js';
import type { QueryOptions, QueryResult, Return, StatementRecord } from './pool.js';
import type {
  CloseReply,
  Forwarder,
  RowSink,
  ServerConnection,
  StreamOptions,
  StreamResult,
  TransactionStatus,
} from './server-connection.js';
import type { StatementCache } from './statement-cache.js';

/** The pool's side of its leases: one object per pool, shared by every lease it hands out. */
export interface LeaseHooks {
  record(record: StatementRecord): void;
  release(connection: ServerConnection, how: Return): void;
}

export interface RunOptions extends QueryOptions {
  /** Cancels the statement on the server once it has run this long (QUERY_TIMEOUT). */
  timeoutMs?: number;
  /** The statement's shape, for per-shape figures. */
  shape?: { fingerprint: string; normalized: string };
}

/** A wire client's hold on the connection while its messages pass through. */
export interface ForwardChannel {
  /** Sends the client's messages on as they are; false when the server side is backed up. */
  write(bytes: Buffer): boolean;
  /** Stops reading the server's replies (the client is slow) until `resume`. */
  pause(): void;
  resume(): void;
  /** Sends poolpilot's own message(s) ahead of the client's, their replies cut out (see ServerConnection.inject). */
  inject(bytes: Buffer, swallow: 'exchange' | 'parse', undo?: () => void): boolean;
  /** A client's own Parse was sent: its ParseComplete goes to the client; `undo` if it fails or is skipped. */
  clientParse(undo?: () => void): void;
  /** Sends a Close whose CloseComplete goes to the client, is cut out, or becomes a ParseComplete. */
  close(bytes: Buffer, reply: CloseReply, undo?: () => void): boolean;
  /** The prepared statements the connection holds under poolpilot's names. */
  readonly statements: StatementCache;
  /** Extended-protocol messages were sent after the last Sync (see ServerConnection.midBatch). */
  readonly midBatch: boolean;
  /** Ends forwarding; the lease stays held until released. */
  detach(): void;
}

/**
 * One borrowed connection: the only way anything runs a statement on a pooled connection, and
 * so the one place statements are timed and counted. Release it exactly once; a connection that
 * failed is closed, and one that may carry session state is reset before it is reused.
 */
export class Lease {
  readonly target: string;
  readonly #connection: ServerConnection;
  readonly #hooks: LeaseHooks;
  #released = false;
  #broken = false;
  #dirty = false;

  constructor(target: string, connection: ServerConnection, hooks: LeaseHooks) {
    this.target = target;
    this.#connection = connection;
    this.#hooks = hooks;
  }

  /** The server process id, for `pg_stat_activity`. */
  get pid(): number {
    return this.#connection.processID;
  }

  /** The server's transaction status after the last reply: I idle, T in a transaction, E failed. */
  get transactionStatus(): TransactionStatus {
    return this.#connection.transactionStatus;
  }

  /** A value the server reports (server_version, TimeZone, ...), as it stands now. */
  parameter(name: string): string | undefined {
    return this.#connection.parameters.get(name);
  }

  /** The caller did something that may leave session state behind: reset before reuse. */
  markDirty(): void {
    this.#dirty = true;
  }

  /** The connection cannot be trusted any more (a cancel that may hit the next statement...). */
  markBroken(): void {
    this.#broken = true;
  }

  /**
   * Runs one statement. With `values` (an empty array included) it goes through the extended
   * protocol, which refuses a string holding several statements; without, the simple protocol.
   */
  async query(text: string, values?: unknown[], options: RunOptions = {}): Promise<QueryResult> {
    return this.#timed(text, options, async () => {
      const r = await this.#connection.query(text, values);
      return { value: { ...r, durationMs: 0 }, rows: r.rowCount };
    }).then(({ value, durationMs }) => ({ ...value, durationMs }));
  }

  /** Runs one statement through the extended protocol, streaming its rows into `sink`. */
  async stream(
    text: string,
    values: unknown[],
    sink: RowSink,
    options: StreamOptions & RunOptions,
  ): Promise<StreamResult & { durationMs: number }> {
    const { value, durationMs } = await this.#timed(text, options, async () => {
      const r = await this.#connection.stream(text, values, sink, options);
      return { value: r, rows: r.rowCount ?? 0 };
    });
    return { ...value, durationMs };
  }

  /** Asks the server to cancel what this connection runs now. */
  cancel(): Promise<void> {
    return this.#connection.cancel();
  }

  /** Lets a wire client's messages through to this connection and its replies back. */
  forward(forwarder: Forwarder): ForwardChannel {
    const connection = this.#connection;
    connection.attach(forwarder);
    return {
      write: (bytes) => connection.forward(bytes),
      pause: () => connection.pause(),
      resume: () => connection.resume(),
      inject: (bytes, swallow, undo) => connection.inject(bytes, swallow, undo),
      clientParse: (undo) => connection.clientParse(undo),
      close: (bytes, reply, undo) => connection.close(bytes, reply, undo),
      statements: connection.statements,
      get midBatch() {
        return connection.midBatch;
      },
      detach: () => connection.detach(),
    };
  }

  /** Counts a statement that went through `forward` (the wire front times its own). */
  record(record: StatementRecord): void {
    this.#hooks.record(record);
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#hooks.release(this.#connection, {
      broken: this.#broken || this.#connection.closed,
      dirty: this.#dirty,
    });
  }

  async #timed<T>(
    text: string,
    options: RunOptions,
    run: () => Promise<{ value: T; rows: number }>,
  ): Promise<{ value: T; durationMs: number }> {
    if (this.#released) throw new PoolpilotError(ErrorCode.Internal, 'statement on a released lease');
    if (options.signal?.aborted) throw cancelled();
    let cancelSent = false;
    let timedOut = false;
    let unanswered = false;
    let giveUp: NodeJS.Timeout | undefined;
    const onAbort = () => {
      if (cancelSent) return;
      cancelSent = true;
      void this.#connection.cancel().catch(() => undefined);
      // A server that answers neither the statement nor the cancel (a stalled network, a
      // half-open connection) would hold the caller forever: after DB_CONN_TIMEOUT more, the
      // connection is closed and the statement fails as the server being unreachable.
      giveUp = setTimeout(() => {
        unanswered = true;
        this.#connection.destroy();
      }, this.#connection.connectTimeoutMs);
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            onAbort();
          }, options.timeoutMs);
    const started = performance.now();
    try {
      const { value, rows } = await run();
      const durationMs = performance.now() - started;
      this.#hooks.record({ text, durationMs, error: undefined, rows, shape: options.shape });
      return { value, durationMs };
    } catch (error) {
      this.#hooks.record({
        text,
        durationMs: performance.now() - started,
        error,
        rows: 0,
        shape: options.shape,
      });
      if (isConnectionError(error) || unanswered) this.#broken = true;
      if (unanswered)
        throw new PoolpilotError(
          ErrorCode.DbUnavailable,
          `${this.target} is unavailable: it answered neither the statement nor its cancel within ` +
            `${this.#connection.connectTimeoutMs} ms, so the connection was closed; whether the statement ran is unknown`,
          { cause: error, details: { target: this.target } },
        );
      if (timedOut)
        throw new PoolpilotError(
          ErrorCode.QueryTimeout,
          `the statement ran longer than ${options.timeoutMs} ms and was cancelled on ${this.target}`,
          { cause: error, details: { target: this.target, timeoutMs: options.timeoutMs } },
        );
      if (options.signal?.aborted) throw cancelled(error);
      throw fromPgError(error, this.target);
    } finally {
      clearTimeout(timer);
      clearTimeout(giveUp);
      options.signal?.removeEventListener('abort', onAbort);
      // A cancel that raced a finishing statement could hit the next one: retire the connection.
      if (cancelSent) this.#broken = true;
    }
  }
}

/** The caller went away: no one is waiting for this answer. */
export function cancelled(cause?: unknown): PoolpilotError {
  return new PoolpilotError(ErrorCode.Cancelled, 'cancelled: the caller went away', { cause });
}
