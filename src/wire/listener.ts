import { randomBytes, randomInt } from 'node:crypto';
import net, { type AddressInfo, type Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import { type Logger, silentLogger } from '../core/logger.js';
import {
  authenticationOk,
  authenticationSasl,
  authenticationSaslContinue,
  authenticationSaslFinal,
  backendKeyData,
  errorResponse,
  negotiateProtocolVersion,
  parameterStatus,
  readyForQuery,
} from './backend-messages.js';
import { type ClientHandler, type ConsoleRole, endWith, WireClient } from './client.js';
import { FrameError, FrameReader } from './frame-reader.js';
import { ClientGoneError, HandshakeReader } from './handshake-reader.js';
import {
  DEFAULT_AUTH_TIMEOUT_MS,
  DEFAULT_MAX_MESSAGE_BYTES,
  Frontend,
  MAX_AUTH_MESSAGE_BYTES,
} from './protocol.js';
import {
  parseSaslInitialResponse,
  ScramExchange,
  ScramProtocolError,
  serverEndPoint,
} from './scram-exchange.js';
import type { ScramVerifier } from './scram-verifier.js';
import { SqlState } from './sqlstate.js';
import { StartupError } from './startup-packet.js';

/** Virtual databases that open the admin console instead of the pool. */
export const CONSOLE_DATABASES: readonly string[] = ['pgbouncer', 'poolpilot'];
const NO = Buffer.from('N');
const YES = Buffer.from('S');
/** First byte of a TLS ClientHello: PostgreSQL 17's direct TLS (sslnegotiation=direct). */
const TLS_HANDSHAKE = 0x16;
/** The ALPN protocol PostgreSQL registered; required on direct TLS, as PostgreSQL 17 requires it. */
const ALPN = 'postgresql';

/** Which clients must use TLS (WIRE_TLS_REQUIRED). */
export type TlsRequirement = 'non-loopback' | 'all' | 'off';

export interface WireListenerOptions {
  /** The pool's database: the only one a client may ask for, besides the admin console's. */
  database: string;
  /** user → verifier. Empty: no passwords, and only loopback clients are accepted. */
  users: ReadonlyMap<string, ScramVerifier>;
  /** The certificate and key offered to clients; null: TLS is refused ('N'). */
  tls?: SecureContext | null;
  /** Default `non-loopback`: a client from any other address must be on TLS. */
  tlsRequired?: TlsRequirement;
  adminUsers?: readonly string[];
  statsUsers?: readonly string[];
  maxClients: number;
  handler: ClientHandler;
  /** The admin console; absent until it exists, and clients asking for it are refused. */
  admin?: ClientHandler;
  /** ParameterStatus values sent after authentication (server_version, TimeZone, ...). */
  parameters: (client: {
    user: string;
    database: string;
    parameters: Readonly<Record<string, string>>;
  }) => Record<string, string>;
  /** A CancelRequest matched this client's key; the proxy cancels what the client runs. */
  onCancel?: (client: WireClient) => void;
  /**
   * Several instances behind one address (REDIS_URL): process ids say which instance issued
   * them, and a CancelRequest for a client this listener does not hold is handed on.
   */
  fleet?: {
    /** A process id carrying this instance's number, from 31 random bits; null: a plain random one. */
    processId(random: number): number | null;
    /** A CancelRequest for a process id this listener never issued or no longer holds. */
    forward(processId: number, secretKey: number): void;
  };
  maxMessageBytes?: number;
  authTimeoutMs?: number;
  log?: Logger;
}

/**
 * The PostgreSQL wire-protocol front: accepts clients, negotiates the protocol, authenticates
 * with SCRAM-SHA-256, and hands each authenticated client to a ClientHandler. One surface among
 * others: `listen`, `drain`, `close`.
 */
export class WireListener {
  private options: WireListenerOptions;
  private readonly log: Logger;
  private readonly server: net.Server;
  /** Every open connection, by the socket it speaks on now (TLS once upgraded). */
  private readonly sockets = new Set<Connection>();
  private readonly byProcessId = new Map<number, WireClient>();
  /** Connections past their StartupMessage, counted against maxClients. */
  private admitted = 0;
  private draining = false;

  constructor(options: WireListenerOptions) {
    this.options = options;
    this.log = options.log ?? silentLogger;
    this.server = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
  }

  async listen(port: number, host: string): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.server.on('error', (error) => this.log.error({ err: error }, 'wire listener error'));
    return this.server.address() as AddressInfo;
  }

  get address(): AddressInfo | null {
    return (this.server.address() as AddressInfo | null) ?? null;
  }

  /** RELOAD: a new user list, for logins from now on. */
  setUsers(users: ReadonlyMap<string, ScramVerifier>): void {
    this.options = { ...this.options, users };
  }

  /** RELOAD: a new certificate and key, for TLS handshakes from now on. */
  setTls(tls: SecureContext | null): void {
    this.options = { ...this.options, tls };
  }

  /** Connections not yet past authentication (PgBouncer's login_clients). */
  get loggingIn(): number {
    return Math.max(0, this.sockets.size - this.byProcessId.size);
  }

  get listening(): boolean {
    return this.server.listening;
  }

  /** Authenticated clients. */
  clients(): IterableIterator<WireClient> {
    return this.byProcessId.values();
  }

  get clientCount(): number {
    return this.byProcessId.size;
  }

  /**
   * Stops accepting, lets each client finish its transaction, then closes it with 57P01; after
   * `graceMs` the rest are closed the same way whatever they are doing.
   */
  async drain(graceMs: number): Promise<boolean> {
    this.draining = true;
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const deadline = Date.now() + graceMs;
    while (this.sockets.size > 0 && Date.now() < deadline) {
      for (const client of this.byProcessId.values()) {
        if (!client.session?.busy?.()) this.shutdown(client);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    let drained = true;
    for (const client of this.byProcessId.values()) {
      if (client.session?.busy?.()) drained = false;
      this.shutdown(client);
    }
    for (const conn of this.sockets) if (!this.isClient(conn.socket)) conn.socket.destroy();
    await stopped;
    return drained;
  }

  /** Closes everything at once. */
  async close(): Promise<void> {
    this.draining = true;
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const conn of this.sockets) conn.socket.destroy();
    await stopped;
  }

  private isClient(socket: Socket): boolean {
    for (const c of this.byProcessId.values()) if (c.socket === socket) return true;
    return false;
  }

  private shutdown(client: WireClient): void {
    client.fatal(SqlState.AdminShutdown, 'terminating connection due to administrator command', {
      detail: 'poolpilot is shutting down',
    });
  }

  private accept(raw: Socket): void {
    // The socket the client speaks on: the TCP socket, or the TLS socket over it once upgraded.
    const conn: Connection = { socket: raw, onClose: () => undefined };
    this.sockets.add(conn);
    raw.on('error', () => raw.destroy());
    // Notices a client whose host vanished without closing, so it does not hold a slot forever.
    raw.setKeepAlive(true, 60_000);
    let admitted = false;
    const timer = setTimeout(
      () => conn.socket.destroy(),
      this.options.authTimeoutMs ?? DEFAULT_AUTH_TIMEOUT_MS,
    );
    timer.unref();
    let gone = false;
    conn.onClose = () => {
      if (gone) return;
      gone = true;
      clearTimeout(timer);
      this.sockets.delete(conn);
      if (admitted) this.admitted--;
    };
    raw.once('close', conn.onClose);
    this.handshake(conn, () => {
      admitted = true;
      this.admitted++;
    })
      .then((accepted) => {
        clearTimeout(timer);
        if (accepted) this.start(accepted.client, accepted.pipelined);
      })
      .catch((error: unknown) => {
        if (error instanceof ClientGoneError) return;
        if (error instanceof StartupError || error instanceof FrameError) {
          endWith(
            conn.socket,
            errorResponse({ severity: 'FATAL', code: error.sqlstate, message: error.message }),
          );
        } else if (error instanceof ScramProtocolError) {
          endWith(
            conn.socket,
            errorResponse({ severity: 'FATAL', code: SqlState.ProtocolViolation, message: error.message }),
          );
        } else if (error instanceof Refusal) {
          endWith(
            conn.socket,
            errorResponse({
              severity: 'FATAL',
              code: error.sqlstate,
              message: error.message,
              ...error.extra,
            }),
          );
        } else {
          this.log.error({ err: error }, 'wire handshake failed');
          endWith(
            conn.socket,
            errorResponse({ severity: 'FATAL', code: SqlState.InternalError, message: 'internal error' }),
          );
        }
      });
  }

  /** Startup, negotiation and authentication; resolves the client, or null for a cancel request. */
  private async handshake(
    conn: Connection,
    admit: () => void,
  ): Promise<{ client: WireClient; pipelined: Buffer } | null> {
    let reader = new HandshakeReader(conn.socket);
    if ((await reader.firstByte()) === TLS_HANDSHAKE) {
      reader = await this.upgrade(conn, reader, 'direct');
    }
    let packet = await reader.startupPacket();
    const seen = new Set<string>();
    while (packet.kind === 'ssl' || packet.kind === 'gssenc') {
      if (seen.has(packet.kind) || conn.socket instanceof TLSSocket)
        throw new StartupError(SqlState.ProtocolViolation, `duplicate ${packet.kind} request`);
      seen.add(packet.kind);
      // Bytes sent before our answer cannot have been meant for a plaintext session (CVE-2021-23214).
      if (reader.buffered > 0) {
        throw new StartupError(
          SqlState.ProtocolViolation,
          `received unencrypted data after ${packet.kind.toUpperCase()} request`,
        );
      }
      if (packet.kind === 'ssl' && this.options.tls) {
        reader = await this.upgrade(conn, reader, 'negotiated');
      } else {
        conn.socket.write(NO);
      }
      packet = await reader.startupPacket();
    }
    const socket = conn.socket;
    if (packet.kind === 'cancel') {
      if (packet.secretKey.length === 4) {
        const secretKey = packet.secretKey.readInt32BE(0);
        if (!this.cancel(packet.processId, secretKey))
          this.options.fleet?.forward(packet.processId, secretKey);
      }
      socket.destroy();
      return null;
    }
    if (this.draining) throw new Refusal(SqlState.CannotConnectNow, 'the database system is shutting down');
    if (this.admitted >= this.options.maxClients) {
      throw new Refusal(
        SqlState.TooManyConnections,
        `sorry, too many clients already (WIRE_MAX_CLIENTS=${this.options.maxClients})`,
      );
    }
    admit();
    if (packet.minor > 0 || packet.protocolOptions.length > 0) {
      socket.write(negotiateProtocolVersion(0, packet.protocolOptions));
    }
    const parameters = packet.parameters;
    const user = parameters.user;
    if (!user)
      throw new Refusal(
        SqlState.InvalidAuthorizationSpecification,
        'no PostgreSQL user name specified in startup packet',
      );
    const replication = parameters.replication?.toLowerCase();
    if (replication !== undefined && !['false', 'off', 'no', '0'].includes(replication)) {
      throw new Refusal(
        SqlState.FeatureNotSupported,
        'replication connections are not supported by poolpilot',
      );
    }
    const database = parameters.database || user;

    const encrypted = socket instanceof TLSSocket;
    let mechanism: string;
    const required = this.options.tlsRequired ?? 'non-loopback';
    if (
      !encrypted &&
      (required === 'all' || (required === 'non-loopback' && !isLoopbackAddress(socket.remoteAddress)))
    ) {
      throw new Refusal(
        SqlState.InvalidAuthorizationSpecification,
        this.options.tls
          ? `connection from ${socket.remoteAddress} refused: TLS is required (WIRE_TLS_REQUIRED=${required}); connect with sslmode=require`
          : `connection from ${socket.remoteAddress} refused: TLS is required (WIRE_TLS_REQUIRED=${required}) and this server has no certificate (WIRE_TLS_CERT, WIRE_TLS_KEY)`,
      );
    }
    if (this.options.users.size === 0) {
      if (!isLoopbackAddress(socket.remoteAddress)) {
        throw new Refusal(
          SqlState.InvalidAuthorizationSpecification,
          'no WIRE_USERS are configured: only loopback clients are accepted',
        );
      }
      socket.write(authenticationOk);
      mechanism = 'trust';
    } else {
      mechanism = await this.authenticate(socket, reader, user);
    }

    const consoleRole = this.consoleRole(user);
    const console = CONSOLE_DATABASES.includes(database);
    if (console) {
      if (!this.options.admin) {
        throw new Refusal(
          SqlState.FeatureNotSupported,
          `the admin console (database "${database}") is not available in this version of poolpilot`,
        );
      }
      if (!consoleRole) {
        throw new Refusal(
          SqlState.InsufficientPrivilege,
          `user "${user}" may not use the admin console: list it in WIRE_ADMIN_USERS or WIRE_STATS_USERS`,
        );
      }
    } else if (database !== this.options.database) {
      throw new Refusal(SqlState.InvalidCatalogName, `database "${database}" does not exist`, {
        hint: `This poolpilot serves database "${this.options.database}".`,
      });
    }

    const client = new WireClient({
      socket,
      user,
      database,
      parameters,
      ...this.newKey(),
      consoleRole,
      authMechanism: mechanism,
    });
    const status = { ...this.options.parameters({ user, database, parameters }) };
    if (parameters.application_name !== undefined) status.application_name = parameters.application_name;
    socket.cork();
    for (const [name, value] of Object.entries(status)) socket.write(parameterStatus(name, value));
    socket.write(backendKeyData(client.processId, client.secretKey));
    socket.write(readyForQuery('I'));
    process.nextTick(() => socket.uncork());
    return { client, pipelined: reader.detach() };
  }

  private async authenticate(socket: Socket, reader: HandshakeReader, user: string): Promise<string> {
    const verifier = this.options.users.get(user) ?? null;
    const certificate = socket instanceof TLSSocket ? socket.getCertificate() : null;
    const der = certificate && 'raw' in certificate ? (certificate.raw as Buffer) : null;
    const binding = der ? serverEndPoint(der) : null;
    const exchange = new ScramExchange(user, verifier, binding);
    socket.write(authenticationSasl(exchange.mechanisms));
    const initial = await reader.message(MAX_AUTH_MESSAGE_BYTES);
    if (initial.type !== Frontend.Password) {
      throw new ScramProtocolError(`expected SASL response, got message type ${initial.type}`);
    }
    const { mechanism, data } = parseSaslInitialResponse(initial.body);
    exchange.choose(mechanism);
    socket.write(authenticationSaslContinue(exchange.start(data)));
    const response = await reader.message(MAX_AUTH_MESSAGE_BYTES);
    if (response.type !== Frontend.Password) {
      throw new ScramProtocolError(`expected SASL response, got message type ${response.type}`);
    }
    const serverFinal = exchange.finish(response.body.toString('utf8'));
    if (serverFinal === null) {
      // Same answer for an unknown user and a wrong password.
      throw new Refusal(SqlState.InvalidPassword, `password authentication failed for user "${user}"`);
    }
    socket.write(authenticationSaslFinal(serverFinal));
    socket.write(authenticationOk);
    return mechanism;
  }

  /**
   * Switches the connection to TLS: after our 'S' to an SSLRequest (`negotiated`), or at once
   * when the client opened with a ClientHello (`direct`, which must name ALPN `postgresql`).
   * Resolves a reader of the decrypted stream once the handshake is done.
   */
  private async upgrade(
    conn: Connection,
    reader: HandshakeReader,
    how: 'negotiated' | 'direct',
  ): Promise<HandshakeReader> {
    const context = this.options.tls;
    if (!context) {
      throw new StartupError(
        SqlState.ProtocolViolation,
        'direct TLS connection received, but this server has no certificate (WIRE_TLS_CERT, WIRE_TLS_KEY): connect with sslmode=disable or prefer',
      );
    }
    const raw = conn.socket;
    raw.pause();
    // A ClientHello already read is handed back to the socket; TLSSocket reads it from there.
    const hello = reader.detach();
    raw.pause();
    if (hello.length > 0) raw.unshift(hello);
    if (how === 'negotiated') raw.write(YES);
    const secure = new TLSSocket(raw, {
      isServer: true,
      secureContext: context,
      ALPNProtocols: [ALPN],
    });
    secure.on('error', () => secure.destroy());
    secure.once('close', conn.onClose);
    conn.socket = secure;
    await new Promise<void>((resolve, reject) => {
      const failed = () => reject(new ClientGoneError());
      secure.once('error', failed);
      secure.once('close', failed);
      secure.once('secure', () => {
        secure.off('error', failed);
        resolve();
      });
    });
    if (how === 'direct' && secure.alpnProtocol !== ALPN) {
      throw new StartupError(
        SqlState.ProtocolViolation,
        'received direct TLS connection request without ALPN protocol negotiation extension "postgresql"',
      );
    }
    return new HandshakeReader(secure);
  }

  private consoleRole(user: string): ConsoleRole {
    if (this.options.users.size === 0) return 'admin';
    if (this.options.adminUsers?.includes(user)) return 'admin';
    if (this.options.statsUsers?.includes(user)) return 'stats';
    return null;
  }

  /**
   * Cancels what the client with this key runs, when this listener holds it and the secret
   * matches; true when it holds a client with that process id. A forwarded request arrives here too.
   */
  cancel(processId: number, secretKey: number): boolean {
    const client = this.byProcessId.get(processId);
    if (!client) return false;
    if (secretKey === client.secretKey) this.options.onCancel?.(client);
    return true;
  }

  private newKey(): { processId: number; secretKey: number } {
    let processId: number;
    do {
      const random = randomInt(1, 2 ** 31 - 1);
      processId = this.options.fleet?.processId(random) ?? random;
    } while (this.byProcessId.has(processId));
    return { processId, secretKey: randomBytes(4).readInt32BE(0) };
  }

  /** Registers the client and switches its socket to framed messages for its handler. */
  private start(client: WireClient, pipelined: Buffer): void {
    const socket = client.socket;
    if (socket.destroyed) return;
    this.byProcessId.set(client.processId, client);
    const handler = CONSOLE_DATABASES.includes(client.database) ? this.options.admin! : this.options.handler;
    const session = handler.attach(client);
    client.session = session;
    const reader = new FrameReader(this.options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
    const onMessage = (type: number, body: Buffer, frame: Buffer) => session.message(type, body, frame);
    const feed = (chunk: Buffer) => {
      try {
        reader.feed(chunk, onMessage);
      } catch (error) {
        socket.off('data', feed);
        if (error instanceof FrameError) {
          client.fatal(error.sqlstate, error.message);
        } else {
          this.log.error({ err: error, client: client.id }, 'wire client handler failed');
          client.fatal(SqlState.InternalError, 'internal error');
        }
      }
    };
    socket.once('close', () => {
      this.byProcessId.delete(client.processId);
      session.closed();
    });
    socket.on('data', feed);
    if (pipelined.length > 0) feed(pipelined);
  }
}

/** A connection in its handshake: the socket it speaks on now, and its one cleanup. */
interface Connection {
  socket: Socket;
  onClose: () => void;
}

/** A refusal with a SQLSTATE, sent as FATAL before closing. */
class Refusal extends Error {
  readonly sqlstate: string;
  readonly extra: { hint?: string };
  constructor(sqlstate: string, message: string, extra: { hint?: string } = {}) {
    super(message);
    this.sqlstate = sqlstate;
    this.extra = extra;
  }
}

export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  if (address === '::1') return true;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return net.isIPv4(v4) && v4.startsWith('127.');
}
