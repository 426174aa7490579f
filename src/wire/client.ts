import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { type ErrorFields, errorResponse } from './backend-messages.js';

/**
 * What a surface behind the front does with an authenticated client. The proxy (and the admin
 * console) implement it: `attach` is called once, right after ReadyForQuery, and returns the
 * session that receives the client's messages.
 */
export interface ClientHandler {
  attach(client: WireClient): ClientSession;
}

export interface ClientSession {
  /**
   * One complete frontend message (see FrameReader). Called synchronously from the socket's data
   * event; to apply backpressure, pause `client.socket` and resume it later.
   */
  message(type: number, body: Buffer, frame: Buffer): void;
  /** The socket closed, whoever closed it: release whatever the client holds. Called once. */
  closed(): void;
  /**
   * False while the client is inside a transaction or waits for a reply: a draining listener
   * closes a client only when it is idle. Absent means always idle.
   */
  busy?(): boolean;
}

/** Which admin-console commands a user may run: `admin` all, `stats` the read-only SHOW ones. */
export type ConsoleRole = 'admin' | 'stats' | null;

export interface WireClientInit {
  socket: Socket;
  user: string;
  database: string;
  parameters: Readonly<Record<string, string>>;
  processId: number;
  secretKey: number;
  consoleRole: ConsoleRole;
  /** How it logged in: SCRAM-SHA-256, SCRAM-SHA-256-PLUS (channel bound to its TLS), or trust. */
  authMechanism?: string;
}

/** An authenticated client connection, as the listener hands it to a ClientHandler. */
export class WireClient {
  private static nextId = 1;
  readonly id = WireClient.nextId++;
  readonly socket: Socket;
  readonly user: string;
  readonly database: string;
  /** The StartupMessage parameters as sent (application_name, client_encoding, options, GUCs). */
  readonly parameters: Readonly<Record<string, string>>;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The BackendKeyData this client was given; a CancelRequest must present both. */
  readonly processId: number;
  readonly secretKey: number;
  readonly consoleRole: ConsoleRole;
  readonly authMechanism: string;
  readonly connectedAt = Date.now();
  session: ClientSession | null = null;

  constructor(init: WireClientInit) {
    this.socket = init.socket;
    this.user = init.user;
    this.database = init.database;
    this.parameters = init.parameters;
    this.processId = init.processId;
    this.secretKey = init.secretKey;
    this.consoleRole = init.consoleRole;
    this.authMechanism = init.authMechanism ?? 'trust';
    this.remoteAddress = init.socket.remoteAddress ?? '';
    this.remotePort = init.socket.remotePort ?? 0;
  }

  get applicationName(): string {
    return this.parameters.application_name ?? '';
  }

  /** TLS protocol and cipher (TLSv1.3/TLS_AES_256_GCM_SHA384) when the client is on TLS, else ''. */
  get tls(): string {
    const socket = this.socket;
    if (!(socket instanceof TLSSocket)) return '';
    const cipher = socket.getCipher();
    return `${socket.getProtocol() ?? ''}/${cipher?.standardName ?? cipher?.name ?? ''}`;
  }

  get closed(): boolean {
    return this.socket.destroyed;
  }

  /** Writes encoded backend messages; false means the socket buffer is full (wait for 'drain'). */
  send(data: Buffer): boolean {
    return this.socket.write(data);
  }

  /** Sends an ErrorResponse (severity ERROR unless given) and keeps the connection. */
  error(fields: Omit<ErrorFields, 'severity'> & { severity?: ErrorFields['severity'] }): void {
    this.socket.write(errorResponse({ severity: 'ERROR', ...fields }));
  }

  /** Sends a FATAL ErrorResponse and closes the connection once it is written. */
  fatal(code: string, message: string, extra: Partial<ErrorFields> = {}): void {
    endWith(this.socket, errorResponse({ ...extra, severity: 'FATAL', code, message }));
  }
}

/** Writes a last message and closes, without waiting for the peer to close its side. */
export function endWith(socket: Socket, data: Buffer): void {
  if (socket.destroyed || socket.writableEnded) return;
  socket.end(data, () => socket.destroy());
  // A peer that stops reading must not keep the socket open forever.
  setTimeout(() => socket.destroy(), 5_000).unref();
}
