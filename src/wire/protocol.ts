import { Msg } from '../core/pool/backend-messages.js';

/**
 * Literals of the PostgreSQL frontend/backend protocol 3.0 that the front speaks, and the limits
 * it enforces. Message types are byte values so the hot path compares numbers, not strings.
 */

/** Protocol 3.0 as the startup packet's version field. */
export const PROTOCOL_3_0 = 196_608;
/** Special "versions" of the untyped startup-phase packets. */
export const SSL_REQUEST_CODE = 80_877_103;
export const GSSENC_REQUEST_CODE = 80_877_104;
export const CANCEL_REQUEST_CODE = 80_877_102;

/**
 * Largest startup-phase packet (StartupMessage, SSLRequest, CancelRequest), as PostgreSQL's
 * MAX_STARTUP_PACKET_LENGTH: anything longer is a confused or hostile client.
 */
export const MAX_STARTUP_PACKET_BYTES = 10_000;
/** Largest SASL message before the client is authenticated (PostgreSQL's PG_MAX_AUTH_TOKEN_LENGTH is 65535). */
export const MAX_AUTH_MESSAGE_BYTES = 65_535;
/**
 * Largest frontend message after authentication (a Bind with big parameters, one CopyData):
 * 256 MiB by default, configurable per listener. PostgreSQL's own ceiling is 1 GiB - 1.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024;
/** How long a client may take from connecting to being authenticated (PostgreSQL: authentication_timeout 60 s). */
export const DEFAULT_AUTH_TIMEOUT_MS = 60_000;

/** Frontend message types (first byte of a typed message). */
export const Frontend = {
  Bind: 0x42, // B
  Close: 0x43, // C
  CopyData: 0x64, // d
  CopyDone: 0x63, // c
  CopyFail: 0x66, // f
  Describe: 0x44, // D
  Execute: 0x45, // E
  Flush: 0x48, // H
  FunctionCall: 0x46, // F
  Parse: 0x50, // P
  /** PasswordMessage, SASLInitialResponse and SASLResponse share 'p'. */
  Password: 0x70, // p
  Query: 0x51, // Q
  Sync: 0x53, // S
  Terminate: 0x58, // X
} as const;

/** Backend message types: the core's table (it reads them too), plus what only the front sends. */
export const Backend = { ...Msg, NegotiateProtocolVersion: 0x76 /* v */ } as const;

/** Authentication request codes carried by an 'R' message. */
export const AuthCode = { Ok: 0, SASL: 10, SASLContinue: 11, SASLFinal: 12 } as const;

/** ReadyForQuery transaction status: idle, in a transaction block, in a failed transaction block. */
export type TransactionStatus = 'I' | 'T' | 'E';
