import type { Analysis } from '../core/analyzer/index.js';
import type { ClientRecord, ClientRegistry } from '../core/clients/index.js';
import { ErrorCode, PoolpilotError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { ForwardChannel, Forwarder, TransactionStatus } from '../core/pool/index.js';
import type { Poolpilot } from '../core/poolpilot.js';
import { mayLeaveState, type Placement, type Session } from '../core/session/index.js';
import { errorResponse, noticeResponse, readyForQuery } from './backend-messages.js';
import type { ClientHandler, ClientSession, WireClient } from './client.js';
import { Frontend } from './protocol.js';
import { errorFieldsFor, SqlState } from './sqlstate.js';
import { TransactionMode } from './transaction-mode.js';

/**
 * Transaction pooling for wire clients: a client holds a server connection from the first
 * message of a unit of work (a transaction, or one statement outside of one) until the server
 * reports ReadyForQuery idle with nothing outstanding, and nothing in between. Each unit is
 * placed by the same analyzer and router as executeQuery; its messages pass through as they came
 * and the server's replies go back as they arrive, with backpressure both ways.
 */
export class WireProxy implements ClientHandler {
  readonly #poolpilot: Poolpilot;
  readonly #log: Logger;
  readonly #sessions = new Map<WireClient, ProxySession>();

  constructor(poolpilot: Poolpilot, log: Logger) {
    this.#poolpilot = poolpilot;
    this.#log = log;
  }

  attach(client: WireClient): ClientSession {
    const registry = this.#poolpilot.clients;
    const record = registry.add({
      surface: 'wire',
      user: client.user,
      database: client.database,
      applicationName: client.applicationName,
      address: client.remoteAddress,
      port: client.remotePort,
      connectedAt: new Date(client.connectedAt),
    });
    const session = new ProxySession(client, this.#poolpilot.session(), registry, record, this.#log, () => {
      record.close();
      this.#sessions.delete(client);
    });
    this.#sessions.set(client, session);
    return session;
  }

  /** A CancelRequest with this client's key: cancel what its server connection runs, if any. */
  cancel(client: WireClient): void {
    this.#sessions.get(client)?.cancel();
  }

  /** Connected clients' sessions and what each is doing. */
  sessions(): IterableIterator<ProxySession> {
    return this.#sessions.values();
  }
}

/** Messages waiting for a connection beyond which the client's socket is paused. */
const BACKLOG_PAUSE = 256;

interface Unit {
  wrote: boolean;
  tables: string[];
  judging: Promise<void>[];
}

interface Pending {
  type: number;
  body: Buffer;
  frame: Buffer;
}

/** One wire client's side of transaction pooling. */
export class ProxySession implements ClientSession {
  readonly client: WireClient;
  readonly #session: Session;
  readonly #log: Logger;
  readonly #onClosed: () => void;
  readonly #mode: TransactionMode;
  readonly #registry: ClientRegistry;
  /** This client in the control plane's list, with its state and its traffic per target. */
  readonly record: ClientRecord;
  #placement: Placement | null = null;
  #channel: ForwardChannel | null = null;
  /** Messages that arrived while a connection was being found, in order. */
  #backlog: Pending[] | null = null;
  /** Queries and Syncs sent whose ReadyForQuery has not come back yet. */
  #outstanding = 0;
  /** After an error poolpilot raised in an extended-protocol batch: skip to its Sync, as the server does. */
  #skipToSync = false;
  /** The last Parse of the unnamed statement, sent again when its Bind lands on another connection. */
  #unnamedParse: { sql: string; frame: Buffer } | null = null;
  /**
   * Bookkeeping of the unit of work under way: what it wrote, and analyses still being made. A
   * new object per unit, so an analysis that comes in late counts for its own unit.
   */
  #unit: Unit = { wrote: false, tables: [], judging: [] };
  #closed = false;
  /** The client's socket is paused because its backlog grew past BACKLOG_PAUSE. */
  #paused = false;
  /** Statements and bytes from the client since the last unit of work was counted. */
  #statements = 0;
  #bytesIn = 0;
  /** When the oldest request still unanswered was sent (for query_time). */
  #requestSentAt: number | null = null;

  constructor(
    client: WireClient,
    session: Session,
    registry: ClientRegistry,
    record: ClientRecord,
    log: Logger,
    onClosed: () => void,
  ) {
    this.client = client;
    this.#session = session;
    this.#registry = registry;
    this.record = record;
    this.#log = log;
    this.#onClosed = onClosed;
    this.#mode = new TransactionMode(client.parameters);
    client.socket.on('drain', () => this.#channel?.resume());
  }

  /** Where the client's connection is now: its target, or null between units of work. */
  get target(): string | null {
    return this.#placement?.route.target ?? null;
  }

  busy(): boolean {
    return this.#placement !== null || this.#backlog !== null;
  }

  cancel(): void {
    void this.#placement?.lease.cancel();
  }

  message(type: number, body: Buffer, frame: Buffer): void {
    if (type === Frontend.Query || type === Frontend.Execute) this.#statements += 1;
    this.#bytesIn += frame.length;
    if (this.#backlog) {
      this.#backlog.push({ type, body, frame });
      // A client that keeps sending while its connection is found is held back (pausing every
      // client for every unit of work would cost two system calls a transaction).
      if (this.#backlog.length >= BACKLOG_PAUSE && !this.#paused) {
        this.#paused = true;
        this.client.socket.pause();
      }
      return;
    }
    this.#handle(type, body, frame);
  }

  closed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#backlog = null;
    const placement = this.#placement;
    if (placement) {
      // Mid-statement, the connection's state is unknown: close it. Idle in a transaction, the
      // pool rolls it back and resets it.
      if (this.#outstanding > 0) placement.lease.markBroken();
      this.#finish(false);
    }
    void this.#session.close();
    this.#onClosed();
  }

  #handle(type: number, body: Buffer, frame: Buffer): void {
    if (this.#skipToSync) {
      if (type === Frontend.Sync) {
        this.#skipToSync = false;
        this.client.send(readyForQuery('I'));
      }
      return;
    }
    switch (type) {
      case Frontend.Terminate:
        this.client.socket.end();
        return;
      case Frontend.Query: {
        const sql = cString(body, 0);
        if (this.#channel) {
          this.#forward(frame, sql, true);
          return;
        }
        this.#start(sql, frame, 'simple');
        return;
      }
      case Frontend.Parse: {
        const nameEnd = body.indexOf(0);
        const name = body.toString('utf8', 0, nameEnd);
        const sql = cString(body, nameEnd + 1);
        if (name === '') this.#unnamedParse = { sql, frame: Buffer.from(frame) };
        if (this.#channel) {
          this.#channel.clientParse();
          this.#forward(frame, sql, false);
          return;
        }
        this.#start(sql, frame, 'extended');
        return;
      }
      case Frontend.Sync:
        if (!this.#channel) {
          // Nothing is open: the answer is known without a server.
          this.client.send(readyForQuery('I'));
          return;
        }
        this.#outstanding += 1;
        this.#requestSentAt ??= performance.now();
        this.#channel.write(frame);
        return;
      case Frontend.Bind:
      case Frontend.Describe:
      case Frontend.Execute:
      case Frontend.Close:
      case Frontend.Flush:
        if (this.#channel) {
          this.#channel.write(frame);
          return;
        }
        // A statement parsed in an earlier unit of work: found again by its text, parsed again
        // on the connection this unit lands on (its ParseComplete is not the client's).
        this.#start(this.#unnamedParse?.sql ?? null, frame, 'extended', this.#unnamedParse?.frame);
        return;
      case Frontend.CopyData:
      case Frontend.CopyDone:
      case Frontend.CopyFail:
        this.#channel?.write(frame);
        return;
      default:
        if (this.#channel) {
          this.#channel.write(frame);
          return;
        }
        this.#start(null, frame, type === Frontend.FunctionCall ? 'simple' : 'extended');
        return;
    }
  }

  /** Sends a message within the unit of work under way, keeping its bookkeeping. */
  #forward(frame: Buffer, sql: string, query: boolean): void {
    if (query) {
      this.#outstanding += 1;
      this.#requestSentAt ??= performance.now();
    }
    this.#channel!.write(frame);
    this.#note(this.#session.judge(sql));
  }

  /** Starts a unit of work: judge, refuse or place it, then send what came meanwhile. */
  #start(sql: string | null, frame: Buffer, protocol: 'simple' | 'extended', inject?: Buffer): void {
    this.#backlog = [];
    this.record.waiting();
    void this.#place(sql, frame, protocol, inject).finally(() => {
      const backlog = this.#backlog ?? [];
      this.#backlog = null;
      if (!this.#placement) this.record.done();
      if (this.#closed) return;
      for (const m of backlog) {
        // A message replayed here may start another unit of work: the rest wait for it.
        const waiting = this.#backlog as Pending[] | null;
        if (waiting) waiting.push(m);
        else this.#handle(m.type, m.body, m.frame);
      }
      if (!this.#backlog && this.#paused) {
        this.#paused = false;
        this.client.socket.resume();
      }
    });
  }

  async #place(
    sql: string | null,
    frame: Buffer,
    protocol: 'simple' | 'extended',
    inject: Buffer | undefined,
  ): Promise<void> {
    const analysis = sql === null ? null : await this.#session.judge(sql);
    const refusal = analysis ? this.#mode.refusal(analysis, sql ?? '') : null;
    if (refusal) return this.#refuse(refusal, protocol);
    let placement: Placement;
    try {
      placement = await this.#session.place(analysis, sql ?? '');
    } catch (error) {
      return this.#refuse(error, protocol);
    }
    if (this.#closed) {
      this.#session.finish(placement, { ok: false, wrote: false, tables: [] });
      return;
    }
    this.#placement = placement;
    this.record.placed(placement.route.target);
    this.#requestSentAt = performance.now();
    this.#unit = { wrote: false, tables: [], judging: [] };
    this.#record(this.#unit, analysis);
    const channel = placement.lease.forward(this.#forwarder(placement));
    this.#channel = channel;
    const settings = this.#mode.settingsFor(placement.lease);
    if (settings) {
      placement.lease.markDirty();
      channel.inject(settings, 'exchange');
    }
    if (inject) channel.inject(inject, 'parse');
    if (frame[0] === Frontend.Query) this.#outstanding += 1;
    if (frame[0] === Frontend.Parse) channel.clientParse();
    if (frame[0] === Frontend.Sync) this.#outstanding += 1;
    channel.write(frame);
    if (analysis && sql !== null) this.#mode.sent(analysis, sql);
  }

  #forwarder(placement: Placement): Forwarder {
    return {
      data: (bytes) => {
        this.#registry.traffic(placement.route.target).bytesSent += bytes.length;
        return this.client.send(bytes);
      },
      ready: (status) => this.#ready(placement, status),
      injectedError: (error) => {
        this.client.send(
          noticeResponse({
            severity: 'WARNING',
            code: SqlState.InvalidParameterValue,
            message: `poolpilot could not restore a setting of this session: ${error.message}`,
          }),
        );
      },
      serverError: (sqlstate) => {
        if (sqlstate === READ_ONLY_SQL_TRANSACTION) this.#session.refusedAsReadOnly(placement);
      },
      closed: (error, midMessage) => {
        if (this.#placement !== placement) return;
        this.#log.warn(
          { err: error, target: placement.route.target },
          'server connection lost under a wire client',
        );
        this.#finish(false);
        // The client's protocol state is unknown: it must reconnect, never see a truncated success.
        // Cut inside a row it already has the start of, no message can follow: the connection
        // closes (the client reports it lost), rather than an error its parser would misread.
        if (midMessage) {
          this.client.socket.destroy();
          return;
        }
        this.client.fatal(
          SqlState.ConnectionFailure,
          `${placement.route.target} is unavailable: ${error.message}`,
        );
      },
    };
  }

  #ready(placement: Placement, status: TransactionStatus): void {
    if (this.#placement !== placement) return;
    this.#outstanding = Math.max(0, this.#outstanding - 1);
    const now = performance.now();
    if (this.#requestSentAt !== null) {
      const durationMs = now - this.#requestSentAt;
      this.#registry.traffic(placement.route.target).statementTimeUs += durationMs * 1000;
      // The pool's statement count and latency include what wire clients run.
      placement.lease.record({ text: '', durationMs, error: undefined, rows: 0 });
      this.#requestSentAt = this.#outstanding > 0 ? now : null;
    }
    if (this.#outstanding > 0 || status !== 'I') return;
    this.#finish(true);
  }

  #finish(ok: boolean): void {
    const placement = this.#placement;
    if (!placement) return;
    this.#placement = null;
    this.#channel?.detach();
    this.#channel = null;
    this.#outstanding = 0;
    this.#requestSentAt = null;
    const traffic = this.#registry.traffic(placement.route.target);
    traffic.statements += this.#statements;
    traffic.bytesReceived += this.#bytesIn;
    this.#statements = 0;
    this.#bytesIn = 0;
    this.record.done();
    const unit = this.#unit;
    const finish = () => {
      this.#mode.finished(ok);
      // Read once every analysis is in: the unit's last statements add their tables late.
      this.#session.finish(placement, { ok, wrote: unit.wrote, tables: unit.tables });
    };
    if (unit.judging.length === 0) finish();
    else void Promise.all(unit.judging).then(finish);
  }

  /** Keeps what a statement of the unit may have done, once its analysis is in. */
  #note(judged: Promise<Analysis | null>): void {
    // The unit's lease, not whatever lease is held when the analysis comes in: the unit's
    // connection goes back only after its analyses are in (see #finish), so the mark lands first.
    const unit = this.#unit;
    const lease = this.#placement?.lease;
    const done = judged.then((analysis) => {
      this.#record(unit, analysis);
      if (analysis === null || mayLeaveState(analysis)) lease?.markDirty();
    });
    unit.judging.push(done);
  }

  #record(unit: Unit, analysis: Analysis | null): void {
    if (analysis?.features.statements.every((k) => WRITES_NO_TABLE.has(k))) return;
    if (analysis === null || analysis.writes !== false) {
      unit.wrote = true;
      if (analysis) unit.tables.push(...analysis.tables);
    }
  }

  /** Answers a refused unit of work as the server would answer an error in it. */
  #refuse(error: unknown, protocol: 'simple' | 'extended'): void {
    const fields =
      error instanceof PoolpilotError || !(error instanceof Error)
        ? errorFieldsFor(error)
        : errorFieldsFor(new PoolpilotError(ErrorCode.Internal, error.message));
    this.client.send(errorResponse(fields));
    if (protocol === 'simple') this.client.send(readyForQuery('I'));
    else this.#skipToSync = true;
  }
}

/**
 * Statements the analyzer counts as writes (they must run on the primary, or change the
 * session) that change no table: BEGIN/COMMIT/ROLLBACK and SET. A unit of work made only of
 * these and reads is no write for read-your-writes; otherwise every read-only transaction would
 * send every client's reads of every table to the primary until a replica caught up.
 */
const WRITES_NO_TABLE = new Set(['TRANSACTION', 'SET']);

/** PostgreSQL's refusal of a write by a read-only server (or transaction). */
const READ_ONLY_SQL_TRANSACTION = '25006';

function cString(body: Buffer, offset: number): string {
  const end = body.indexOf(0, offset);
  return body.toString('utf8', offset, end === -1 ? body.length : end);
}
