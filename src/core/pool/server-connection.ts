import { connect as netConnect, type Socket } from 'node:net';
import { TLSSocket, connect as tlsConnect } from 'node:tls';
import pg from 'pg';
import sasl from 'pg/lib/crypto/sasl.js';
import cryptoUtils from 'pg/lib/crypto/utils.js';
import pgUtils from 'pg/lib/utils.js';
import { parse as parseConnectionString } from 'pg-connection-string';
import { serialize } from 'pg-protocol';
import {
  commandName,
  commandRowCount,
  type FieldDescription,
  Msg,
  readCString,
  readDataRow,
  readError,
  readParameterStatus,
  readRowDescription,
} from './backend-messages.js';
import { MessageFramer } from './message-framer.js';
import { StatementCache } from './statement-cache.js';
import { type TlsMode, tlsMode } from './tls-mode.js';

/**
 * One connection to a PostgreSQL server, spoken to in the protocol directly: poolpilot's own
 * login, statements run for the core (rows typed as node-postgres would type them, or streamed
 * to a sink), and a forwarding mode in which a wire client's messages pass through untouched.
 * It always frames the server's replies, so the transaction status, the parameters the server
 * reports and its cancel key are known whoever is using it.
 */

export interface ServerConnectionOptions {
  connectionString: string;
  applicationName: string;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
}

export interface QueryResult {
  rows: Record<string, unknown>[];
  rowCount: number;
  fields: FieldDescription[];
  command: string;
}

/** Where streamed rows go: raw text values in column order, duplicates and all. */
export interface RowSink {
  fields(fields: FieldDescription[]): void;
  row(values: (string | null)[], bytes: number): void;
}

export interface StreamOptions {
  /** Rows to ask the server for; it stops producing there (Execute's row limit). 0 = all. */
  maxRows: number;
  /** Bytes of row data to hand to the sink; rows past it are read off the socket and dropped. */
  maxBytes: number;
}

export interface StreamResult {
  command: string | null;
  /** As the server counted (null when the portal was suspended at the row limit). */
  rowCount: number | null;
  /** The server had more rows than `maxRows`. */
  suspended: boolean;
  /** Rows were dropped to stay within `maxBytes`. */
  overBytes: boolean;
  /** Row bytes received (the sink's share and the dropped ones). */
  bytes: number;
}

/** The forwarding side of a wire client: gets the server's bytes as they arrive. */
export interface Forwarder {
  /** Server messages to send on as they are; false asks the server side to pause. */
  data(bytes: Buffer): boolean;
  /** Called after `data` for each ReadyForQuery the client sees, with its status (I, T, E). */
  ready(status: TransactionStatus): void;
  /** An exchange poolpilot injected (see `inject`) failed: the server's error. */
  injectedError(error: Error): void;
  /**
   * The server connection failed or closed while attached. `midMessage`: part of a message (a
   * large row passing through) already went to the client, so its framing cannot take another.
   */
  closed(error: Error, midMessage: boolean): void;
  /** The server answered the client with an error (passed on as it is): its SQLSTATE. */
  serverError?(sqlstate: string): void;
}

export type TransactionStatus = 'I' | 'T' | 'E';

/**
 * What becomes of the CloseComplete a Close earns: the client's (it asked), poolpilot's own
 * (an eviction, cut out), or a ParseComplete for the client (a Close of a name that does not
 * exist stands in for a Parse whose statement the connection already holds, so the answer comes
 * in its place among the server's replies).
 */
export type CloseReply = 'client' | 'ours' | 'parse';

/** A Parse or Close sent while forwarding, until its reply comes or the server skips it. */
interface Sent<R> {
  reply: R;
  /** Order of sending, to undo skipped messages last-sent first. */
  seq: number;
  /** Sync points (Sync, Query, FunctionCall) sent before it: the ReadyForQuery that ends its batch. */
  batch: number;
  /** Called when ReadyForQuery comes first: the server skipped it after an error (or the Parse failed). */
  undo?: () => void;
}

interface Operation {
  message(type: number, body: Buffer): void;
  /** Whether a body of `length` bytes must be assembled when it straddles chunks. */
  wants(type: number, length: number): boolean;
  ready(): void;
  fail(error: Error): void;
}

const CANCEL_REQUEST_CODE = 80877102;
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
/** Control messages a forwarding connection reads itself; rows and copy data only pass through. */
const SMALL = 64 * 1024;
const HEADER = 5;

export class ConnectionClosedError extends Error {
  readonly code = 'ECONNRESET';
}

export class ServerConnection {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly #options: ServerConnectionOptions;
  readonly #password: string | undefined;
  readonly #tls: TlsMode;
  #socket: Socket | null = null;
  readonly #framer: MessageFramer;
  #op: Operation | null = null;
  readonly #waiting: (() => void)[] = [];
  #forwarder: Forwarder | null = null;
  /** Forwarding: the start of a small message split across chunks, held until it is whole. */
  #held: Buffer | null = null;
  /** Forwarding: bytes of a large message (rows, copy data) still to pass through unread. */
  #passing = 0;
  /** Forwarding: injected exchanges whose replies, up to their ReadyForQuery, the client must not see. */
  #swallowExchanges = 0;
  /** Forwarding: for each Parse sent since the last ReadyForQuery, whether its ParseComplete is ours. */
  readonly #parses: Sent<boolean>[] = [];
  /** Forwarding: the same for each Close. */
  readonly #closes: Sent<CloseReply>[] = [];
  #sent = 0;
  /** Forwarding: sync points sent, and ReadyForQuery received for them (see `Sent.batch`). */
  #syncsSent = 0;
  #syncsAnswered = 0;
  /** performance.now() of the server's latest bytes, and of the request it has owed replies since. */
  #heardAt = 0;
  #owingSince = 0;
  /**
   * Forwarding: extended-protocol messages went out after the last Sync, so the server is in the
   * middle of a batch: its next ReadyForQuery does not end the client's unit of work, and the
   * connection cannot be reused if the client leaves now.
   */
  midBatch = false;
  /** Prepared statements this connection holds under poolpilot's names (see the wire front). */
  readonly statements = new StatementCache();
  #closed: Error | null = null;
  processID = 0;
  secretKey = 0;
  transactionStatus: TransactionStatus = 'I';
  /** Every parameter the server reported (server_version, TimeZone, ...), kept current. */
  readonly parameters = new Map<string, string>();
  /** The values at login: what a reset must bring back. */
  readonly #initial = new Map<string, string>();
  /** Set when the server reported a parameter different from its value at login. */
  parametersChanged = false;
  /** When the login finished (Date.now()); 0 until then. */
  connectedAt = 0;
  /** When its pool lent it out (Date.now()); 0 while it is not lent (SHOW SERVERS). */
  lentAt = 0;
  /** Told when the socket fails or closes outside of any operation (an idle connection dropped). */
  onClose: ((error: Error) => void) | null = null;

  constructor(options: ServerConnectionOptions) {
    this.#options = options;
    // libpq semantics (see tlsMode), without the library's warning about its own, older reading.
    const c = parseConnectionString(options.connectionString, { useLibpqCompat: true });
    this.host = c.host || process.env.PGHOST || 'localhost';
    this.port = Number(c.port || process.env.PGPORT || 5432);
    this.user = c.user || process.env.PGUSER || process.env.USER || 'postgres';
    this.database = c.database || this.user;
    this.#password = c.password ?? process.env.PGPASSWORD;
    this.#tls = tlsMode(c as Parameters<typeof tlsMode>[0], this.host);
    this.#framer = new MessageFramer(
      (type, body) => this.#message(type, body),
      (type, length) => this.#wants(type, length),
    );
  }

  get closed(): boolean {
    return this.#closed !== null;
  }

  /** Opens the socket, negotiates TLS when asked for, logs in, and waits for the first ReadyForQuery. */
  async connect(): Promise<void> {
    const socket = await this.#open();
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    const login = new Promise<void>((resolve, reject) => {
      this.#op = new LoginOperation(this, this.#password, resolve, reject);
    });
    socket.on('data', (chunk: Buffer) => this.#data(chunk));
    socket.on('error', (error) => this.#fail(error));
    socket.on('close', () => this.#fail(new ConnectionClosedError('Connection terminated')));
    const startup: Record<string, string> = {
      user: this.user,
      database: this.database,
      application_name: this.#options.applicationName,
      client_encoding: 'UTF8',
    };
    if (this.#options.statementTimeoutMs > 0)
      startup.statement_timeout = String(this.#options.statementTimeoutMs);
    socket.write(serialize.startup(startup));
    const timer = setTimeout(
      () => this.#fail(new Error(`timeout expired: no login within ${this.#options.connectTimeoutMs} ms`)),
      this.#options.connectTimeoutMs,
    );
    try {
      await login;
    } finally {
      clearTimeout(timer);
      this.#op = null;
    }
    for (const [name, value] of this.parameters) this.#initial.set(name, value);
    this.parametersChanged = false;
    this.connectedAt = Date.now();
  }

  get localAddress(): string {
    return this.#socket?.localAddress ?? '';
  }

  get localPort(): number {
    return this.#socket?.localPort ?? 0;
  }

  /** Protocol and cipher when the connection is encrypted (TLSv1.3/TLS_AES_256_GCM_SHA384), else ''. */
  get tlsDescription(): string {
    const socket = this.#socket;
    if (!(socket instanceof TLSSocket)) return '';
    const cipher = socket.getCipher();
    return `${socket.getProtocol() ?? ''}/${cipher?.standardName ?? cipher?.name ?? ''}`;
  }

  /**
   * Sends raw bytes (login replies, a forwarded client's messages). Writes made in the same turn
   * of the event loop leave in one system call: a client's Parse, Bind, Describe, Execute and Sync
   * usually arrive together and are passed on one by one.
   */
  write(bytes: Buffer): boolean {
    const socket = this.#socket;
    if (!socket || this.#closed) return false;
    if (!this.#corked) {
      this.#corked = true;
      socket.cork();
      process.nextTick(this.#uncork);
    }
    return socket.write(bytes);
  }

  #corked = false;
  readonly #uncork = () => {
    this.#corked = false;
    this.#socket?.uncork();
  };

  /**
   * One statement for the core. With `values` (even none) the extended protocol, which refuses
   * a string holding several statements; without, the simple protocol (last result kept).
   */
  query(text: string, values?: unknown[]): Promise<QueryResult> {
    return this.#run((resolve, reject) => {
      const op = new CollectOperation(resolve, reject);
      if (values === undefined) {
        this.write(serialize.query(text));
      } else {
        this.write(extendedQuery(text, values, 0));
      }
      return op;
    });
  }

  /** One statement through the extended protocol, its rows handed to `sink` as they arrive. */
  stream(text: string, values: unknown[], sink: RowSink, options: StreamOptions): Promise<StreamResult> {
    return this.#run((resolve, reject) => {
      const op = new StreamOperation(sink, options, resolve, reject);
      this.write(extendedQuery(text, values, options.maxRows));
      return op;
    });
  }

  /** Hands the server's replies to a wire client until `detach`. */
  attach(forwarder: Forwarder): void {
    this.#forwarder = forwarder;
  }

  detach(): void {
    this.#forwarder = null;
    this.#swallowExchanges = 0;
    this.#settle(true);
    this.#syncsSent = this.#syncsAnswered = 0;
    this.midBatch = false;
    this.#passing = 0;
    const held = this.#held;
    this.#held = null;
    if (held) this.#framer.push(held);
    this.#socket?.resume();
  }

  /**
   * Sends an exchange of poolpilot's own ahead of a forwarded client's messages (a SET bringing
   * the connection to the client's settings, a Parse the client made on another connection):
   * 'exchange' swallows every reply up to its ReadyForQuery, 'parse' only its ParseComplete.
   */
  inject(bytes: Buffer, swallow: 'exchange' | 'parse', undo?: () => void): boolean {
    if (swallow === 'exchange') this.#swallowExchanges += 1;
    else {
      this.#parses.push(this.#sentMessage(true, undo));
      this.midBatch = true;
    }
    return this.write(bytes);
  }

  /** A client's own message, forwarded: Sync, Query and FunctionCall each earn a ReadyForQuery. */
  forward(bytes: Buffer): boolean {
    const type = bytes[0]!;
    if (type === SYNC || type === QUERY || type === FUNCTION_CALL) {
      if (this.#syncsSent === this.#syncsAnswered) this.#owingSince = performance.now();
      this.#syncsSent += 1;
      this.midBatch = false;
    } else if (EXTENDED.has(type)) {
      this.midBatch = true;
    }
    return this.write(bytes);
  }

  /**
   * Closes a forwarded connection whose server owes replies and has sent nothing for `silentMs`:
   * called when the target is found unreachable (a stalled network, a half-open connection), so a
   * wire client waiting on it gets an error instead of waiting for ever. True when it was closed.
   */
  abandonIfSilent(silentMs: number): boolean {
    if (!this.#forwarder || this.#closed !== null || this.#syncsSent <= this.#syncsAnswered) return false;
    if (performance.now() - Math.max(this.#heardAt, this.#owingSince) < silentMs) return false;
    this.#fail(
      new ConnectionClosedError(
        `the server sent nothing for ${Math.round(silentMs)} ms and failed its health check`,
      ),
    );
    this.#socket?.destroy();
    return true;
  }

  /** A client's own Parse went through: its ParseComplete is the client's. */
  clientParse(undo?: () => void): void {
    this.#parses.push(this.#sentMessage(false, undo));
  }

  /** Sends a Close (the client's, or one of poolpilot's) whose CloseComplete becomes `reply`. */
  close(bytes: Buffer, reply: CloseReply, undo?: () => void): boolean {
    this.#closes.push(this.#sentMessage(reply, undo));
    this.midBatch = true;
    return this.write(bytes);
  }

  #sentMessage<R>(reply: R, undo: (() => void) | undefined): Sent<R> {
    return { reply, seq: this.#sent++, batch: this.#syncsSent, undo };
  }

  /**
   * A ReadyForQuery ended the batch of the oldest sync point (or forwarding ended: `all`): a
   * Parse or Close of that batch still unanswered was skipped (an error came first) or failed,
   * and what was assumed of it is undone, last-sent first so the net effect is the server's.
   */
  #settle(all: boolean): void {
    this.#syncsAnswered += 1;
    if (this.#parses.length === 0 && this.#closes.length === 0) return;
    const done = (s: Sent<unknown>) => all || s.batch < this.#syncsAnswered;
    const skipped: Sent<unknown>[] = [];
    while (this.#parses.length > 0 && done(this.#parses[0]!)) skipped.push(this.#parses.shift()!);
    while (this.#closes.length > 0 && done(this.#closes[0]!)) skipped.push(this.#closes.shift()!);
    const undo = skipped.filter((s) => s.undo);
    if (undo.length === 0) return;
    undo.sort((a, b) => b.seq - a.seq);
    for (const s of undo) s.undo!();
  }

  pause(): void {
    this.#socket?.pause();
  }

  resume(): void {
    this.#socket?.resume();
  }

  /** True when a value the server reports differs from the one it had at login. */
  changedParameters(): string[] {
    const changed: string[] = [];
    for (const [name, value] of this.parameters) if (this.#initial.get(name) !== value) changed.push(name);
    return changed;
  }

  /** How long the server may take to answer before it counts as unreachable (DB_CONN_TIMEOUT). */
  get connectTimeoutMs(): number {
    return this.#options.connectTimeoutMs;
  }

  /** A CancelRequest with this backend's key over a new socket, the way psql does on Ctrl-C. */
  cancel(timeoutMs = 5_000): Promise<void> {
    if (this.processID === 0) return Promise.resolve();
    const packet = Buffer.alloc(16);
    packet.writeInt32BE(16, 0);
    packet.writeInt32BE(CANCEL_REQUEST_CODE, 4);
    packet.writeInt32BE(this.processID, 8);
    packet.writeInt32BE(this.secretKey, 12);
    return new Promise((resolve) => {
      const socket = this.host.startsWith('/')
        ? netConnect(`${this.host}/.s.PGSQL.${this.port}`)
        : netConnect(this.port, this.host);
      const done = () => {
        socket.destroy();
        resolve();
      };
      socket.setTimeout(timeoutMs, done);
      socket.once('error', done);
      socket.once('close', done);
      socket.once('connect', () => socket.end(packet));
    });
  }

  /** Says goodbye (Terminate) and closes; never throws. */
  end(): Promise<void> {
    const socket = this.#socket;
    if (!socket || this.#closed) {
      this.#closed ??= new ConnectionClosedError('Connection closed');
      return Promise.resolve();
    }
    this.#closed = new ConnectionClosedError('Connection closed');
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        socket.destroy();
        resolve();
      }, 1_000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.end(serialize.end());
    });
  }

  /** Closes at once (a broken or untrusted connection). */
  destroy(): void {
    this.#closed ??= new ConnectionClosedError('Connection destroyed');
    this.#socket?.destroy();
  }

  // --- internals ---

  #tlsStream(): TLSSocket | null {
    return this.#socket instanceof TLSSocket ? this.#socket : null;
  }

  #open(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = this.host.startsWith('/')
        ? netConnect(`${this.host}/.s.PGSQL.${this.port}`)
        : netConnect(this.port, this.host);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`timeout expired: could not connect to ${this.host}:${this.port}`));
      }, this.#options.connectTimeoutMs);
      const failed = (error: Error) => {
        clearTimeout(timer);
        reject(error);
      };
      socket.once('error', failed);
      socket.once('connect', () => {
        if (!this.#tls.request) {
          clearTimeout(timer);
          socket.off('error', failed);
          resolve(socket);
          return;
        }
        socket.write(SSL_REQUEST);
        socket.once('data', (answer: Buffer) => {
          clearTimeout(timer);
          socket.off('error', failed);
          if (answer[0] === 0x53 /* S */ && answer.length === 1) {
            const secure = tlsConnect({ ...this.#tls.options, socket });
            secure.once('secureConnect', () => resolve(secure));
            secure.once('error', reject);
          } else if (answer[0] === 0x4e /* N */ && answer.length === 1 && !this.#tls.required) {
            resolve(socket);
          } else {
            socket.destroy();
            reject(new Error(`${this.host}:${this.port} refused TLS, which sslmode requires`));
          }
        });
      });
    });
  }

  #run<T>(start: (resolve: (value: T) => void, reject: (error: Error) => void) => Operation): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const go = () => {
        if (this.#closed) {
          reject(this.#closed);
          this.#next();
          return;
        }
        const done = (value: T) => {
          this.#op = null;
          resolve(value);
          this.#next();
        };
        const failed = (error: Error) => {
          this.#op = null;
          reject(error);
          this.#next();
        };
        this.#op = start(done, failed);
      };
      if (this.#op === null && this.#waiting.length === 0) go();
      else this.#waiting.push(go);
    });
  }

  #next(): void {
    if (this.#op === null) this.#waiting.shift()?.();
  }

  #data(chunk: Buffer): void {
    this.#heardAt = performance.now();
    try {
      if (this.#forwarder) this.#forward(chunk, this.#forwarder);
      else this.#framer.push(chunk);
    } catch (error) {
      this.#fail(error as Error);
      this.#socket?.destroy();
    }
  }

  /**
   * Passes server bytes to a wire client as they are, reading only the headers to follow message
   * boundaries, and the bodies of the few messages it must know (ReadyForQuery, ParameterStatus,
   * errors of injected exchanges). Replies to injected messages are cut out.
   */
  #forward(input: Buffer, forwarder: Forwarder): void {
    let chunk = input;
    if (this.#held) {
      chunk = Buffer.concat([this.#held, input]);
      this.#held = null;
    }
    const end = chunk.length;
    let from = 0; // start of the bytes not yet sent on
    let at = 0;
    let paused = false;
    const send = (until: number) => {
      if (until > from && !forwarder.data(chunk.subarray(from, until))) paused = true;
    };
    while (at < end) {
      if (this.#passing > 0) {
        const take = Math.min(this.#passing, end - at);
        this.#passing -= take;
        at += take;
        continue;
      }
      if (end - at < HEADER) {
        send(at);
        this.#held = Buffer.from(chunk.subarray(at));
        from = at = end;
        break;
      }
      const type = chunk[at]!;
      const total = chunk.readInt32BE(at + 1) + 1;
      if (total < HEADER) throw new Error(`malformed server message: length ${total - 1}`);
      if (at + total > end) {
        // Rows and copy data pass through whatever their size: holding a row split across reads
        // would copy every read (a chunk rarely ends on a row boundary), doubling what a large
        // result allocates. Only messages whose body is read (or dropped) are held whole.
        const passes = type === Msg.DataRow || type === Msg.CopyData;
        if ((total <= SMALL && !passes) || this.#swallowExchanges > 0) {
          send(at);
          this.#held = Buffer.from(chunk.subarray(at));
          from = at = end;
          break;
        }
        // A large row or copy chunk: it passes through as it comes.
        this.#passing = at + total - end;
        at = end;
        continue;
      }
      const body = chunk.subarray(at + HEADER, at + total);
      const drop = this.#forwardedMessage(type, body, forwarder);
      if (drop) {
        send(at);
        from = at + total;
      }
      at += total;
      if (type === Msg.ReadyForQuery && !drop) {
        send(at);
        from = at;
        forwarder.ready(this.transactionStatus);
        if (this.#forwarder !== forwarder) {
          // Detached at the end of its transaction: whatever follows is the connection's own.
          if (at < end) this.#framer.push(chunk.subarray(at));
          return;
        }
      }
    }
    send(at);
    if (paused) this.#socket?.pause();
  }

  /** Keeps the connection's own view current; true when the message is ours and must not go on. */
  #forwardedMessage(type: number, body: Buffer, forwarder: Forwarder): boolean {
    if (type === Msg.ParameterStatus) {
      const [name, value] = readParameterStatus(body);
      this.parameters.set(name, value);
      if (this.#initial.get(name) !== value) this.parametersChanged = true;
      return this.#swallowExchanges > 0;
    }
    if (this.#swallowExchanges > 0) {
      if (type === Msg.ErrorResponse) forwarder.injectedError(readError(body));
      if (type === Msg.ReadyForQuery) {
        this.transactionStatus = String.fromCharCode(body[0]!) as TransactionStatus;
        this.#swallowExchanges -= 1;
      }
      return true;
    }
    switch (type) {
      case Msg.ReadyForQuery:
        this.transactionStatus = String.fromCharCode(body[0]!) as TransactionStatus;
        this.#settle(false);
        return false;
      case Msg.ParseComplete:
        return this.#parses.shift()?.reply === true;
      case Msg.CloseComplete: {
        const reply = this.#closes.shift()?.reply;
        // The message's type byte, in place: it goes on as ParseComplete.
        if (reply === 'parse') Buffer.from(body.buffer, body.byteOffset - HEADER, 1)[0] = Msg.ParseComplete;
        return reply === 'ours';
      }
      case Msg.CommandComplete:
        // The server dropped every prepared statement (the client said so in SQL).
        if (isDroppingAll(body)) this.statements.clear();
        return false;
      case Msg.ErrorResponse:
        if (forwarder.serverError) forwarder.serverError(errorCode(body));
        return false;
      default:
        return false;
    }
  }

  #wants(type: number, length: number): boolean {
    if (this.#op) return this.#op.wants(type, length);
    return length <= SMALL;
  }

  #message(type: number, body: Buffer): void {
    switch (type) {
      case Msg.ReadyForQuery: {
        this.transactionStatus = String.fromCharCode(body[0]!) as TransactionStatus;
        this.#op?.ready();
        return;
      }
      case Msg.ParameterStatus: {
        if (body.length === 0) return;
        const [name, value] = readParameterStatus(body);
        this.parameters.set(name, value);
        if (this.#initial.size > 0 && this.#initial.get(name) !== value) this.parametersChanged = true;
        return;
      }
      case Msg.BackendKeyData:
        this.processID = body.readInt32BE(0);
        this.secretKey = body.readInt32BE(4);
        return;
      case Msg.NoticeResponse:
      case Msg.NotificationResponse:
        if (!(this.#op instanceof LoginOperation)) return;
    }
    this.#op?.message(type, body);
  }

  #fail(error: Error): void {
    const first = this.#closed === null;
    this.#closed ??= error;
    const op = this.#op;
    this.#op = null;
    if (op) op.fail(error);
    const forwarder = this.#forwarder;
    this.#forwarder = null;
    if (forwarder) forwarder.closed(error, this.#passing > 0);
    for (const go of this.#waiting.splice(0)) go();
    if (first && !op && !forwarder) this.onClose?.(error);
  }

  // Used by the login operation.
  /** @internal */
  async authenticate(body: Buffer, password: string | undefined, state: LoginState): Promise<void> {
    const code = body.readInt32BE(0);
    switch (code) {
      case 0:
        return;
      case 3: // cleartext
        this.write(serialize.password(requirePassword(password)));
        return;
      case 5: {
        const hashed = await cryptoUtils.postgresMd5PasswordHash(
          this.user,
          requirePassword(password),
          body.subarray(4, 8),
        );
        this.write(serialize.password(hashed));
        return;
      }
      case 10: {
        const mechanisms: string[] = [];
        let offset = 4;
        while (offset < body.length && body[offset] !== 0) {
          const name = readCString(body, offset);
          mechanisms.push(name);
          offset += Buffer.byteLength(name) + 1;
        }
        // Over TLS, SCRAM-SHA-256-PLUS binds the login to this TLS channel when the server offers it.
        state.sasl = sasl.startSession(mechanisms, this.#tlsStream());
        this.write(serialize.sendSASLInitialResponseMessage(state.sasl.mechanism, state.sasl.response));
        return;
      }
      case 11:
        await sasl.continueSession(
          state.sasl,
          requirePassword(password),
          body.toString('utf8', 4),
          this.#tlsStream(),
        );
        this.write(serialize.sendSCRAMClientFinalMessage(state.sasl.response));
        return;
      case 12:
        sasl.finalizeSession(state.sasl, body.toString('utf8', 4));
        return;
      default:
        throw new Error(`the server asks for an authentication method poolpilot does not speak (${code})`);
    }
  }
}

const SYNC = 0x53; // S
const QUERY = 0x51; // Q
const FUNCTION_CALL = 0x46; // F
/** Parse, Bind, Describe, Execute, Close, Flush: answered only up to the batch's Sync. */
const EXTENDED = new Set([0x50, 0x42, 0x44, 0x45, 0x43, 0x48]);
const DISCARD_ALL = Buffer.from('DISCARD ALL\0');
const DEALLOCATE_ALL = Buffer.from('DEALLOCATE ALL\0');

function isDroppingAll(tag: Buffer): boolean {
  return (
    (tag.length === DISCARD_ALL.length && tag.equals(DISCARD_ALL)) ||
    (tag.length === DEALLOCATE_ALL.length && tag.equals(DEALLOCATE_ALL))
  );
}

function requirePassword(password: string | undefined): string {
  if (password === undefined) throw new Error('the server asks for a password and none is configured');
  return password;
}

interface LoginState {
  sasl: sasl.Session;
}

class LoginOperation implements Operation {
  readonly #connection: ServerConnection;
  readonly #password: string | undefined;
  readonly #resolve: () => void;
  readonly #reject: (error: Error) => void;
  readonly #state = {} as LoginState;
  #chain: Promise<void> = Promise.resolve();
  #error: Error | null = null;

  constructor(
    connection: ServerConnection,
    password: string | undefined,
    resolve: () => void,
    reject: (e: Error) => void,
  ) {
    this.#connection = connection;
    this.#password = password;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  wants(): boolean {
    return true;
  }

  message(type: number, body: Buffer): void {
    if (type === Msg.Authentication) {
      const copy = Buffer.from(body);
      this.#chain = this.#chain
        .then(() => this.#connection.authenticate(copy, this.#password, this.#state))
        .catch((error: Error) => {
          this.#error ??= error;
          this.#connection.destroy();
          this.#reject(error);
        });
    } else if (type === Msg.ErrorResponse) {
      this.#error = readError(body);
      this.#reject(this.#error);
    }
  }

  ready(): void {
    void this.#chain.then(() => {
      if (this.#error) this.#reject(this.#error);
      else this.#resolve();
    });
  }

  fail(error: Error): void {
    this.#reject(this.#error ?? error);
  }
}

/**
 * What a statement's replies have in common, collected or streamed: the first ErrorResponse is
 * kept (the server skips to Sync after it), COPY FROM STDIN cannot be fed here, and the answer
 * settles at ReadyForQuery or when the connection fails.
 */
abstract class ReplyOperation<T> implements Operation {
  readonly #resolve: (r: T) => void;
  readonly #reject: (e: Error) => void;
  #error: Error | null = null;

  constructor(resolve: (r: T) => void, reject: (e: Error) => void) {
    this.#resolve = resolve;
    this.#reject = reject;
  }

  abstract wants(type: number, length: number): boolean;
  protected abstract reply(type: number, body: Buffer): void;
  protected abstract result(): T;

  message(type: number, body: Buffer): void {
    if (type === Msg.ErrorResponse) this.#error ??= readError(body);
    else if (type === Msg.CopyInResponse) this.#error ??= new Error('COPY FROM STDIN is not supported here');
    else this.reply(type, body);
  }

  ready(): void {
    if (this.#error) this.#reject(this.#error);
    else this.#resolve(this.result());
  }

  fail(error: Error): void {
    this.#reject(this.#error ?? error);
  }
}

/** Collects the (last) result with values typed as node-postgres types them. */
class CollectOperation extends ReplyOperation<QueryResult> {
  #fields: FieldDescription[] = [];
  #parsers: ((value: string) => unknown)[] = [];
  #rows: Record<string, unknown>[] = [];
  #command = '';
  #rowCount = 0;

  wants(): boolean {
    return true;
  }

  protected reply(type: number, body: Buffer): void {
    switch (type) {
      case Msg.RowDescription:
        this.#fields = readRowDescription(body);
        this.#parsers = this.#fields.map((f) => pg.types.getTypeParser(f.dataTypeID, 'text'));
        this.#rows = [];
        return;
      case Msg.DataRow: {
        const values = readDataRow(body);
        const row: Record<string, unknown> = {};
        for (let i = 0; i < values.length; i++) {
          const v = values[i]!;
          row[this.#fields[i]!.name] = v === null ? null : this.#parsers[i]!(v);
        }
        this.#rows.push(row);
        return;
      }
      case Msg.CommandComplete: {
        const tag = readCString(body);
        this.#command = commandName(tag);
        this.#rowCount = commandRowCount(tag) ?? this.#rows.length;
        return;
      }
    }
  }

  protected result(): QueryResult {
    return { rows: this.#rows, rowCount: this.#rowCount, fields: this.#fields, command: this.#command };
  }
}

class StreamOperation extends ReplyOperation<StreamResult> {
  readonly #sink: RowSink;
  readonly #options: StreamOptions;
  readonly #result: StreamResult = {
    command: null,
    rowCount: null,
    suspended: false,
    overBytes: false,
    bytes: 0,
  };
  /** Row bytes handed to the sink, against maxBytes. */
  #kept = 0;
  /** The size of the row `wants` just declined to assemble. */
  #skipped = 0;

  constructor(
    sink: RowSink,
    options: StreamOptions,
    resolve: (r: StreamResult) => void,
    reject: (e: Error) => void,
  ) {
    super(resolve, reject);
    this.#sink = sink;
    this.#options = options;
  }

  wants(type: number, length: number): boolean {
    if (type !== Msg.DataRow) return true;
    const keep = !this.#result.overBytes && this.#kept + length <= this.#options.maxBytes;
    if (!keep) this.#skipped = length;
    return keep;
  }

  protected reply(type: number, body: Buffer): void {
    switch (type) {
      case Msg.RowDescription:
        this.#sink.fields(readRowDescription(body));
        return;
      case Msg.DataRow: {
        const r = this.#result;
        if (body.length === 0) {
          // A row too big to keep, skipped as it passed (see `wants`).
          r.bytes += this.#skipped;
          r.overBytes = true;
          return;
        }
        r.bytes += body.length;
        if (r.overBytes || this.#kept + body.length > this.#options.maxBytes) {
          r.overBytes = true;
          return;
        }
        this.#kept += body.length;
        this.#sink.row(readDataRow(body), body.length);
        return;
      }
      case Msg.CommandComplete: {
        const tag = readCString(body);
        this.#result.command = commandName(tag);
        this.#result.rowCount = commandRowCount(tag);
        return;
      }
      case Msg.PortalSuspended:
        this.#result.suspended = true;
        return;
    }
  }

  protected result(): StreamResult {
    return this.#result;
  }
}

/**
 * Parse, Bind, Describe, Execute and Sync in one write: one round trip, the unnamed statement and
 * portal, text parameters serialized as node-postgres serializes them.
 */
function extendedQuery(text: string, values: unknown[], maxRows: number): Buffer {
  const prepared = values.map((v) => prepareValue(v));
  return Buffer.concat([
    serialize.parse({ text, types: [] }),
    serialize.bind({ values: prepared as (string | null)[] }),
    serialize.describe({ type: 'P' }),
    serialize.execute({ rows: maxRows }),
    serialize.sync(),
  ]);
}

function prepareValue(value: unknown): string | Buffer | null {
  if (value === null || value === undefined) return null;
  return pgUtils.prepareValue(value);
}

/** The SQLSTATE field (C) of an ErrorResponse body, without reading the rest. */
function errorCode(body: Buffer): string {
  let offset = 0;
  while (offset < body.length && body[offset] !== 0) {
    const nul = body.indexOf(0, offset + 1);
    if (nul === -1) break;
    if (body[offset] === 0x43) return body.toString('latin1', offset + 1, nul);
    offset = nul + 1;
  }
  return '';
}
