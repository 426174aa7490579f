import type { Analysis } from '../core/analyzer/index.js';
import type { ClientRecord, ClientRegistry } from '../core/clients/index.js';
import { ErrorCode, PoolpilotError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { ForwardChannel, Forwarder, TransactionStatus } from '../core/pool/index.js';
import type { Poolpilot } from '../core/poolpilot.js';
import { formatLsn } from '../core/router/index.js';
import { mayLeaveState, type Placement, type Session } from '../core/session/index.js';
import {
  commandComplete,
  dataRow,
  type ErrorFields,
  errorResponse,
  noticeResponse,
  readyForQuery,
  rowDescription,
  TypeOid,
} from './backend-messages.js';
import type { ClientHandler, ClientSession, WireClient } from './client.js';
import { type FrontCommand, frontCommand } from './front-settings.js';
import {
  bindFor,
  CLOSE_NOTHING,
  type ClientStatement,
  deallocation,
  isDiscardAll,
  KIND_STATEMENT,
  parseMessage,
  serverStatementName,
  statementMessage,
} from './prepared-statements.js';
import { Frontend } from './protocol.js';
import { errorFieldsFor, SqlState } from './sqlstate.js';
import { TransactionMode } from './transaction-mode.js';

/**
 * Transaction pooling for wire clients: a client holds a server connection from the first
 * message of a unit of work (a transaction, or one statement outside of one) until the server
 * reports ReadyForQuery idle with nothing outstanding, and nothing in between. Each unit is
 * placed by the same analyzer and router as executeQuery; its messages pass through as they came
 * (named prepared statements renamed to the server-side ones they map to: see
 * prepared-statements.ts) and the server's replies go back as they arrive, with backpressure both
 * ways.
 */
export interface PreparedStatementLimits {
  /** Statements one server connection keeps prepared; the least recently used is closed past it. */
  perConnection: number;
  /** Named statements one client may hold at once; one more is refused with 53400. */
  perClient: number;
}

export const DEFAULT_PREPARED_LIMITS: PreparedStatementLimits = { perConnection: 200, perClient: 1_000 };

export class WireProxy implements ClientHandler {
  readonly #poolpilot: Poolpilot;
  readonly #log: Logger;
  readonly #limits: PreparedStatementLimits;
  readonly #sessions = new Map<WireClient, ProxySession>();

  constructor(poolpilot: Poolpilot, log: Logger, limits: PreparedStatementLimits = DEFAULT_PREPARED_LIMITS) {
    this.#poolpilot = poolpilot;
    this.#log = log;
    this.#limits = limits;
  }

  attach(client: WireClient): ClientSession {
    const registry = this.#poolpilot.clients;
    const record = registry.add(
      {
        surface: 'wire',
        user: client.user,
        database: client.database,
        applicationName: client.applicationName,
        address: client.remoteAddress,
        port: client.remotePort,
        connectedAt: new Date(client.connectedAt),
      },
      (reason) =>
        client.fatal(SqlState.AdminShutdown, 'terminating connection due to administrator command', {
          detail: reason,
        }),
    );
    const session = new ProxySession(
      client,
      this.#poolpilot.session(`wire:${record.id}`, { ownsName: true }),
      registry,
      record,
      this.#log,
      this.#limits,
      () => {
        record.close();
        this.#sessions.delete(client);
      },
    );
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

/** An answer poolpilot gives itself, due once `after` more ReadyForQuery have reached the client. */
interface LocalReply {
  after: number;
  tag: string;
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
  /** The client's named statements by the client's names. */
  readonly #prepared = new Map<string, ClientStatement>();
  readonly #limits: PreparedStatementLimits;
  /** Answers to DEALLOCATE given while earlier queries are still unanswered, in order. */
  readonly #localReplies: LocalReply[] = [];
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
  /** SET poolpilot.after_lsn: every later unit of work goes to a target that has replayed it. */
  #afterLsn: bigint | null = null;
  /** The transaction status of the last ReadyForQuery of the unit under way. */
  #status: TransactionStatus = 'I';
  /** Waiting for every request of the unit under way to be answered (see #quiet). */
  #quietWaiters: (() => void)[] = [];

  constructor(
    client: WireClient,
    session: Session,
    registry: ClientRegistry,
    record: ClientRecord,
    log: Logger,
    limits: PreparedStatementLimits,
    onClosed: () => void,
  ) {
    this.client = client;
    this.#limits = limits;
    this.#session = session;
    this.#registry = registry;
    this.record = record;
    record.preparedStatements = () => this.#prepared.size;
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
      if (this.#outstanding > 0 || this.#channel?.midBatch) placement.lease.markBroken();
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
        const command = frontCommand(sql);
        if (command) {
          this.#hold(() => this.#front(command));
          return;
        }
        if (this.#deallocate(sql)) return;
        if (this.#channel) {
          this.#query(this.#channel, frame);
          this.#note(this.#session.judge(sql));
          return;
        }
        if (isDiscardAll(sql)) this.#prepared.clear();
        this.#start(this.#session.judge(sql), sql, 'simple', (channel) => this.#query(channel, frame));
        return;
      }
      case Frontend.Parse: {
        const nameEnd = body.indexOf(0);
        const text = cString(body, nameEnd + 1);
        if (frontCommand(text)) {
          this.#frontExtended(body.toString('utf8', 0, nameEnd));
          return;
        }
        if (nameEnd > 0) {
          this.#parseNamed(body.toString('utf8', 0, nameEnd), body.subarray(nameEnd + 1));
          return;
        }
        const sql = cString(body, nameEnd + 1);
        this.#unnamedParse = { sql, frame: Buffer.from(frame) };
        const send = (channel: ForwardChannel) => {
          channel.clientParse();
          channel.write(frame);
        };
        if (this.#channel) {
          send(this.#channel);
          this.#note(this.#session.judge(sql));
          return;
        }
        this.#start(this.#session.judge(sql), sql, 'extended', send);
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
      case Frontend.Bind: {
        const portalEnd = body.indexOf(0);
        const statementEnd = body.indexOf(0, portalEnd + 1);
        const statement = this.#prepared.get(body.toString('utf8', portalEnd + 1, statementEnd));
        if (statement) {
          this.#useNamed(statement, (channel) => {
            channel.write(bindFor(body, portalEnd, statementEnd, statement.serverName));
          });
          return;
        }
        this.#other(frame, statementEnd === portalEnd + 1);
        return;
      }
      case Frontend.Describe: {
        const statement = body[0] === KIND_STATEMENT ? this.#prepared.get(cString(body, 1)) : undefined;
        if (statement) {
          this.#useNamed(statement, (channel) => {
            channel.write(statementMessage(Frontend.Describe, KIND_STATEMENT, statement.serverName));
          });
          return;
        }
        this.#other(frame, body[0] !== KIND_STATEMENT || body[1] === 0);
        return;
      }
      case Frontend.Close: {
        const name = body[0] === KIND_STATEMENT ? cString(body, 1) : '';
        if (name !== '' && this.#prepared.delete(name)) {
          // The client's name goes; the server's statement stays for whoever uses it next.
          if (this.#channel) this.#channel.close(CLOSE_NOTHING, 'client');
          else this.client.send(CLOSE_COMPLETE);
          return;
        }
        if (this.#channel) {
          this.#channel.close(frame, 'client');
          return;
        }
        this.#other(frame, name === '');
        return;
      }
      case Frontend.Execute:
      case Frontend.Flush:
        if (this.#channel) {
          this.#channel.write(frame);
          return;
        }
        this.#other(frame, true);
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
        this.#start(null, null, type === Frontend.FunctionCall ? 'simple' : 'extended', (channel) =>
          channel.write(frame),
        );
        return;
    }
  }

  #query(channel: ForwardChannel, frame: Buffer): void {
    this.#outstanding += 1;
    this.#requestSentAt ??= performance.now();
    channel.write(frame);
  }

  /**
   * A Bind, Describe, Execute, Close or Flush that does not name a statement of the client's map.
   * Outside a unit of work it starts one; a message about the unnamed statement or portal parsed
   * in an earlier unit is found again by the statement's text, parsed again on the connection it
   * lands on (its ParseComplete is not the client's).
   */
  #other(frame: Buffer, unnamed: boolean): void {
    if (this.#channel) {
      this.#channel.write(frame);
      return;
    }
    const parse = unnamed ? this.#unnamedParse : null;
    this.#start(parse ? this.#session.judge(parse.sql) : null, parse?.sql ?? null, 'extended', (channel) => {
      if (parse) channel.inject(parse.frame, 'parse');
      if (frame[0] === Frontend.Close) channel.close(frame, 'client');
      else channel.write(frame);
    });
  }

  /** A Parse of a named statement: mapped to poolpilot's name, sent only where it is missing. */
  #parseNamed(name: string, rest: Buffer): void {
    const existing = this.#prepared.get(name);
    if (existing) {
      if (this.#channel) {
        // In order among the server's replies, and the server's transaction fails as it should:
        // parsing the statement the name already has, again, is refused by the server itself.
        this.#ensure(this.#channel, existing);
        this.#channel.clientParse();
        this.#channel.write(existing.parse);
        return;
      }
      this.#error({
        severity: 'ERROR',
        code: SqlState.DuplicatePreparedStatement,
        message: `prepared statement "${name}" already exists`,
      });
      return;
    }
    if (this.#prepared.size >= this.#limits.perClient) {
      const message = `too many prepared statements: a client may hold ${this.#limits.perClient} (WIRE_MAX_CLIENT_PREPARED_STATEMENTS); close or DEALLOCATE some`;
      if (this.#channel) {
        // Mid-transaction the answer could not come in order with the server's: the client goes.
        this.#placement?.lease.markBroken();
        this.client.fatal(SqlState.ConfigurationLimitExceeded, message);
        return;
      }
      this.#error({ severity: 'ERROR', code: SqlState.ConfigurationLimitExceeded, message });
      return;
    }
    const serverName = serverStatementName(rest);
    const sql = cString(rest, 0);
    const statement: ClientStatement = {
      name,
      serverName,
      sql,
      parse: parseMessage(serverName, rest),
      analysis: this.#session.judge(sql),
    };
    this.#prepared.set(name, statement);
    const send = (channel: ForwardChannel) => {
      const cache = channel.statements;
      if (cache.use(serverName)) {
        // Already on this connection: a ParseComplete in its place, nothing parsed.
        channel.close(CLOSE_NOTHING, 'parse');
        return;
      }
      cache.add(serverName);
      channel.clientParse(() => {
        // It failed (or an earlier error skipped it): neither the server nor the client has it.
        cache.delete(serverName);
        if (this.#prepared.get(name) === statement) this.#prepared.delete(name);
      });
      channel.write(statement.parse);
      this.#evict(channel);
    };
    if (this.#channel) {
      send(this.#channel);
      this.#note(statement.analysis);
      return;
    }
    // Outside a transaction the Parse is answered here once the statement parses, and parsed on
    // the server when a Bind or Describe needs it: a client that waits for ParseComplete before
    // going on (libpq's PQprepare) must not wait for a connection, which other transactions of
    // the same client program may hold (pgbench runs many clients in one thread). Text that
    // poolpilot cannot parse goes to the server, whose error the client gets at Parse.
    this.#start(statement.analysis, sql, 'extended', send, true);
  }

  /** A Bind or Describe of a named statement: placed by its analysis, parsed first where missing. */
  #useNamed(statement: ClientStatement, send: (channel: ForwardChannel) => void): void {
    const go = (channel: ForwardChannel) => {
      this.#ensure(channel, statement);
      send(channel);
    };
    if (this.#channel) {
      go(this.#channel);
      this.#note(statement.analysis);
      return;
    }
    this.#start(statement.analysis, statement.sql, 'extended', go);
  }

  /** Parses `statement` on the channel's connection unless it holds it; the reply is not the client's. */
  #ensure(channel: ForwardChannel, statement: ClientStatement): void {
    const cache = channel.statements;
    if (cache.use(statement.serverName)) return;
    cache.add(statement.serverName);
    channel.inject(statement.parse, 'parse', () => cache.delete(statement.serverName));
    this.#evict(channel);
  }

  /** Closes the least recently used statements past the per-connection limit. */
  #evict(channel: ForwardChannel): void {
    const cache = channel.statements;
    while (cache.size > this.#limits.perConnection) {
      const victim = cache.oldest()!;
      cache.delete(victim);
      channel.close(statementMessage(Frontend.Close, KIND_STATEMENT, victim), 'ours', () =>
        cache.add(victim),
      );
    }
  }

  /**
   * `DEALLOCATE name` of a statement in the client's map, and `DEALLOCATE ALL` outside a
   * transaction, are answered here: the client's names go, the server's statements stay cached.
   * Inside a transaction `DEALLOCATE ALL` also reaches the server, for statements made there
   * with SQL PREPARE. True when answered.
   */
  #deallocate(sql: string): boolean {
    const target = deallocation(sql);
    if (!target) return false;
    const tag = 'all' in target ? 'DEALLOCATE ALL' : 'DEALLOCATE';
    if ('all' in target) {
      this.#prepared.clear();
      if (this.#channel) return false;
    } else if (!this.#prepared.delete(target.name)) {
      return false;
    }
    if (this.#outstanding > 0) {
      this.#localReplies.push({ after: this.#outstanding, tag });
      return true;
    }
    this.#answer(tag, this.#placement?.lease.transactionStatus ?? 'I');
    return true;
  }

  #answer(tag: string, status: TransactionStatus): void {
    if (status === 'E') {
      this.client.send(
        errorResponse({
          severity: 'ERROR',
          code: SqlState.InFailedTransaction,
          message: 'current transaction is aborted, commands ignored until end of transaction block',
        }),
      );
    } else {
      this.client.send(commandComplete(tag));
    }
    this.client.send(readyForQuery(status));
  }

  /** An error of poolpilot's own in an extended-protocol batch: the rest is skipped to its Sync. */
  #error(fields: ErrorFields): void {
    this.client.send(errorResponse(fields));
    this.#skipToSync = true;
  }

  /** Starts a unit of work: judge, refuse or place it, then send what came meanwhile. */
  #start(
    judged: Promise<Analysis | null> | null,
    sql: string | null,
    protocol: 'simple' | 'extended',
    send: (channel: ForwardChannel) => void,
    parseHere = false,
  ): void {
    this.#backlog = [];
    this.record.waiting();
    void this.#place(judged, sql, protocol, send, parseHere).finally(() => {
      if (!this.#placement) this.record.done();
      this.#drain();
    });
  }

  /** Runs `work` with the client's later messages held back until it is done, then handles them in order. */
  #hold(work: () => Promise<void>): void {
    this.#backlog = [];
    void work()
      .catch((error) => {
        this.#log.warn({ err: error }, 'front command failed');
        if (!this.#closed) this.client.fatal(SqlState.InternalError, 'internal error');
      })
      .finally(() => this.#drain());
  }

  /** Handles the messages that arrived while the client was held back. */
  #drain(): void {
    const backlog = this.#backlog ?? [];
    this.#backlog = null;
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
  }

  /**
   * Answers a poolpilot.* statement (a simple Query) itself, in order with the server's replies:
   * after every earlier request of the unit under way is answered. Inside a transaction the
   * server must agree on the outcome: an error is raised by the server itself (so the
   * transaction is aborted on both sides), and SET of a position the transaction's server has not
   * replayed (within CAUSAL_WAIT_MS) fails with 40001 so the client retries the transaction, which
   * is then placed with the setting in force.
   */
  async #front(command: FrontCommand): Promise<void> {
    await this.#quiet();
    if (this.#closed) return;
    const placement = this.#placement;
    const status: TransactionStatus = placement ? this.#status : 'I';
    if (command.kind === 'refuse') return this.#frontError(command.error);
    if (status === 'E') {
      // PostgreSQL answers anything but ROLLBACK with 25P02 here; the server says so itself.
      return this.#frontError(new PoolpilotError(ErrorCode.BadSql, 'transaction aborted'));
    }
    if (command.kind === 'set') {
      if (!command.local) this.#afterLsn = command.lsn;
      if (
        placement &&
        command.lsn !== null &&
        !(await this.#session.hasReplayed(placement.route.target, command.lsn))
      ) {
        return this.#frontError(
          new PoolpilotError(
            ErrorCode.BadSql,
            `${placement.route.target} has not replayed poolpilot.after_lsn ${formatLsn(command.lsn)} within CAUSAL_WAIT_MS: retry the transaction (it will be placed where that position is replayed)`,
            { details: { sqlstate: SqlState.SerializationFailure } },
          ),
        );
      }
      this.client.send(Buffer.concat([commandComplete('SET'), readyForQuery(status)]));
      return;
    }
    const value =
      command.name === 'after_lsn'
        ? this.#afterLsn === null
          ? ''
          : formatLsn(this.#afterLsn)
        : await this.#session.lastLsn();
    if (this.#closed) return;
    this.client.send(
      Buffer.concat([
        rowDescription([{ name: `poolpilot.${command.name}`, typeOid: TypeOid.text }]),
        dataRow([value]),
        commandComplete('SHOW'),
        readyForQuery(status),
      ]),
    );
  }

  /**
   * An error for a poolpilot.* statement: answered by the front between units of work; inside
   * one, raised by the server, which then knows its transaction failed as the client does.
   */
  #frontError(error: PoolpilotError): void {
    if (!this.#channel) {
      this.#refuse(error, 'simple');
      return;
    }
    this.#outstanding += 1;
    this.#requestSentAt ??= performance.now();
    this.#channel.write(simpleQuery(raiseStatement(error)));
  }

  /** A poolpilot.* statement in a Parse: the front answers those only in simple queries. */
  #frontExtended(name: string): void {
    const error = new PoolpilotError(
      ErrorCode.BadSql,
      'poolpilot.* settings are taken in a simple query only (or use the /* poolpilot.after_lsn=... */ comment hint)',
      { details: { sqlstate: SqlState.FeatureNotSupported } },
    );
    if (!this.#channel) {
      this.#refuse(error, 'extended');
      return;
    }
    // Mid-batch the server must fail it, so its extended-protocol state stays the client's: the
    // statement becomes one that raises the error when run (a named one under poolpilot's name).
    const rest = Buffer.from(`${raiseStatement(error)}\0\0\0`);
    if (name !== '') {
      this.#parseNamed(name, rest);
      return;
    }
    this.#channel.clientParse();
    this.#channel.write(parseMessage('', rest));
  }

  /** Resolves once every request of the unit under way has been answered (at once when none is). */
  #quiet(): Promise<void> {
    if (this.#outstanding === 0 || !this.#channel) return Promise.resolve();
    return new Promise((resolve) => this.#quietWaiters.push(resolve));
  }

  #wakeQuiet(): void {
    const waiters = this.#quietWaiters;
    this.#quietWaiters = [];
    for (const resolve of waiters) resolve();
  }

  async #place(
    judged: Promise<Analysis | null> | null,
    sql: string | null,
    protocol: 'simple' | 'extended',
    send: (channel: ForwardChannel) => void,
    parseHere: boolean,
  ): Promise<void> {
    const analysis = judged === null ? null : await judged;
    if (parseHere && analysis?.judged && analysis.parseError === null) {
      this.client.send(PARSE_COMPLETE);
      return;
    }
    const refusal = analysis ? this.#mode.refusal(analysis, sql ?? '') : null;
    if (refusal) return this.#refuse(refusal, protocol);
    let placement: Placement;
    try {
      placement = await this.#session.place(analysis, sql ?? '', undefined, this.#afterLsn);
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
    send(channel);
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
    this.#status = status;
    if (this.#localReplies.length > 0) {
      for (const r of this.#localReplies) r.after -= 1;
      while (this.#localReplies[0]?.after === 0) this.#answer(this.#localReplies.shift()!.tag, status);
    }
    const now = performance.now();
    if (this.#requestSentAt !== null) {
      const durationMs = now - this.#requestSentAt;
      this.#registry.traffic(placement.route.target).statementTimeUs += durationMs * 1000;
      // The pool's statement count and latency include what wire clients run.
      placement.lease.record({ text: '', durationMs, error: undefined, rows: 0 });
      this.#requestSentAt = this.#outstanding > 0 ? now : null;
    }
    if (this.#outstanding > 0) return;
    // Extended messages sent after the last Sync: the server is mid-batch, the unit goes on.
    if (status === 'I' && !this.#channel?.midBatch) this.#finish(true);
    this.#wakeQuiet();
  }

  #finish(ok: boolean): void {
    const placement = this.#placement;
    if (!placement) return;
    this.#placement = null;
    this.#channel?.detach();
    this.#channel = null;
    this.#outstanding = 0;
    this.#localReplies.length = 0;
    this.#requestSentAt = null;
    this.#status = 'I';
    this.#wakeQuiet();
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

const CLOSE_COMPLETE = Buffer.from([0x33, 0, 0, 0, 4]);
const PARSE_COMPLETE = Buffer.from([0x31, 0, 0, 0, 4]);

/**
 * A statement that makes the server raise `error` itself (DO runs on a standby too), for errors
 * the front must report inside a unit of work the server is part of.
 */
function raiseStatement(error: PoolpilotError): string {
  const sqlstate =
    typeof error.details.sqlstate === 'string' && /^[0-9A-Z]{5}$/.test(error.details.sqlstate)
      ? error.details.sqlstate
      : SqlState.InvalidParameterValue;
  const quote = (text: string) => `'${text.replace(/'/g, "''")}'`;
  return `DO $poolpilot$BEGIN RAISE EXCEPTION USING ERRCODE = ${quote(sqlstate)}, MESSAGE = ${quote(error.message)}; END$poolpilot$`;
}

function simpleQuery(sql: string): Buffer {
  const text = Buffer.from(`${sql}\0`, 'utf8');
  const frame = Buffer.allocUnsafe(5 + text.length);
  frame[0] = Frontend.Query;
  frame.writeInt32BE(4 + text.length, 1);
  text.copy(frame, 5);
  return frame;
}

/** PostgreSQL's refusal of a write by a read-only server (or transaction). */
const READ_ONLY_SQL_TRANSACTION = '25006';

function cString(body: Buffer, offset: number): string {
  const end = body.indexOf(0, offset);
  return body.toString('utf8', offset, end === -1 ? body.length : end);
}
