import { AuthCode, Backend, type TransactionStatus } from './protocol.js';

/**
 * Encoders for the backend messages the front writes itself (login, errors, the admin console's
 * result sets). Forwarded server messages are never re-encoded: these are for what poolpilot says.
 * Each returns one Buffer holding the whole message, so a caller writes it in one call.
 */

/** Allocates type + length header for a body of `bodyLength` bytes; returns the buffer with the header written. */
function message(type: number, bodyLength: number): Buffer {
  const buf = Buffer.allocUnsafe(5 + bodyLength);
  buf[0] = type;
  buf.writeInt32BE(4 + bodyLength, 1);
  return buf;
}

function fixed(type: number): Buffer {
  return message(type, 0);
}

export const authenticationOk: Buffer = authRequest(AuthCode.Ok);
export const parseComplete: Buffer = fixed(Backend.ParseComplete);
export const bindComplete: Buffer = fixed(Backend.BindComplete);
export const closeComplete: Buffer = fixed(Backend.CloseComplete);
export const noData: Buffer = fixed(Backend.NoData);
export const portalSuspended: Buffer = fixed(Backend.PortalSuspended);
export const emptyQueryResponse: Buffer = fixed(Backend.EmptyQueryResponse);

const READY: Record<TransactionStatus, Buffer> = {
  I: readyFor('I'),
  T: readyFor('T'),
  E: readyFor('E'),
};

function readyFor(status: TransactionStatus): Buffer {
  const buf = message(Backend.ReadyForQuery, 1);
  buf[5] = status.charCodeAt(0);
  return buf;
}

export function readyForQuery(status: TransactionStatus = 'I'): Buffer {
  return READY[status];
}

function authRequest(code: number, data?: Buffer): Buffer {
  const buf = message(Backend.Authentication, 4 + (data?.length ?? 0));
  buf.writeInt32BE(code, 5);
  data?.copy(buf, 9);
  return buf;
}

/** AuthenticationSASL: the mechanisms offered, each a C string, then an empty one. */
export function authenticationSasl(mechanisms: readonly string[]): Buffer {
  const list = Buffer.from(`${mechanisms.map((m) => `${m}\0`).join('')}\0`, 'utf8');
  return authRequest(AuthCode.SASL, list);
}

export function authenticationSaslContinue(data: string | Buffer): Buffer {
  return authRequest(AuthCode.SASLContinue, Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8'));
}

export function authenticationSaslFinal(data: string | Buffer): Buffer {
  return authRequest(AuthCode.SASLFinal, Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8'));
}

export function parameterStatus(name: string, value: string): Buffer {
  const n = Buffer.byteLength(name);
  const v = Buffer.byteLength(value);
  const buf = message(Backend.ParameterStatus, n + v + 2);
  buf.write(name, 5, 'utf8');
  buf[5 + n] = 0;
  buf.write(value, 6 + n, 'utf8');
  buf[6 + n + v] = 0;
  return buf;
}

export function backendKeyData(processId: number, secretKey: number): Buffer {
  const buf = message(Backend.BackendKeyData, 8);
  buf.writeInt32BE(processId | 0, 5);
  buf.writeInt32BE(secretKey | 0, 9);
  return buf;
}

/** NegotiateProtocolVersion: the newest minor version supported and the `_pq_.` options not recognised. */
export function negotiateProtocolVersion(newestMinor: number, unsupportedOptions: readonly string[]): Buffer {
  const names = Buffer.from(unsupportedOptions.map((o) => `${o}\0`).join(''), 'utf8');
  const buf = message(Backend.NegotiateProtocolVersion, 8 + names.length);
  buf.writeInt32BE(newestMinor, 5);
  buf.writeInt32BE(unsupportedOptions.length, 9);
  names.copy(buf, 13);
  return buf;
}

export type Severity = 'ERROR' | 'FATAL' | 'PANIC' | 'WARNING' | 'NOTICE' | 'DEBUG' | 'INFO' | 'LOG';

/** Every field an ErrorResponse/NoticeResponse may carry, by PostgreSQL's names. */
export interface ErrorFields {
  severity: Severity;
  /** SQLSTATE, five characters. */
  code: string;
  message: string;
  detail?: string;
  hint?: string;
  /** 1-based character position in the query text. */
  position?: number;
  internalPosition?: number;
  internalQuery?: string;
  where?: string;
  schema?: string;
  table?: string;
  column?: string;
  dataType?: string;
  constraint?: string;
  file?: string;
  line?: number;
  routine?: string;
}

// Field type bytes, in the order PostgreSQL itself sends them.
const FIELD_TAGS: ReadonlyArray<readonly [keyof ErrorFields, string]> = [
  ['severity', 'S'],
  ['severity', 'V'],
  ['code', 'C'],
  ['message', 'M'],
  ['detail', 'D'],
  ['hint', 'H'],
  ['position', 'P'],
  ['internalPosition', 'p'],
  ['internalQuery', 'q'],
  ['where', 'W'],
  ['schema', 's'],
  ['table', 't'],
  ['column', 'c'],
  ['dataType', 'd'],
  ['constraint', 'n'],
  ['file', 'F'],
  ['line', 'L'],
  ['routine', 'R'],
];

function notice(type: number, fields: ErrorFields): Buffer {
  if (!/^[0-9A-Z]{5}$/.test(fields.code)) throw new Error(`not a SQLSTATE: ${JSON.stringify(fields.code)}`);
  let text = '';
  for (const [key, tag] of FIELD_TAGS) {
    const value = fields[key];
    // A NUL would end the field early and let the rest be read as other fields.
    if (value !== undefined) text += `${tag}${String(value).replaceAll('\0', '')}\0`;
  }
  const body = Buffer.from(`${text}\0`, 'utf8');
  const buf = message(type, body.length);
  body.copy(buf, 5);
  return buf;
}

export function errorResponse(fields: ErrorFields): Buffer {
  return notice(Backend.ErrorResponse, fields);
}

export function noticeResponse(fields: ErrorFields): Buffer {
  return notice(Backend.NoticeResponse, fields);
}

/** Well-known type OIDs for result sets the front builds itself. */
export const TypeOid = {
  bool: 16,
  int8: 20,
  int4: 23,
  text: 25,
  float8: 701,
  numeric: 1700,
  timestamptz: 1184,
} as const;

export interface FieldDescription {
  name: string;
  typeOid: number;
  /** pg_type.typlen: -1 for variable length. */
  typeSize?: number;
  typeModifier?: number;
  tableOid?: number;
  columnAttribute?: number;
  /** 0 text, 1 binary. */
  format?: 0 | 1;
}

export function rowDescription(fields: readonly FieldDescription[]): Buffer {
  const names = fields.map((f) => Buffer.from(`${f.name}\0`, 'utf8'));
  const length = 2 + names.reduce((sum, n) => sum + n.length + 18, 0);
  const buf = message(Backend.RowDescription, length);
  buf.writeInt16BE(fields.length, 5);
  let at = 7;
  fields.forEach((f, i) => {
    at += names[i]!.copy(buf, at);
    buf.writeInt32BE(f.tableOid ?? 0, at);
    buf.writeInt16BE(f.columnAttribute ?? 0, at + 4);
    buf.writeInt32BE(f.typeOid, at + 6);
    buf.writeInt16BE(f.typeSize ?? -1, at + 10);
    buf.writeInt32BE(f.typeModifier ?? -1, at + 12);
    buf.writeInt16BE(f.format ?? 0, at + 16);
    at += 18;
  });
  return buf;
}

/** DataRow in text format: strings as UTF-8, Buffers as given, null as SQL NULL. */
export function dataRow(values: ReadonlyArray<string | Buffer | null>): Buffer {
  const encoded = values.map((v) => (v === null ? null : Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8')));
  const length = 2 + encoded.reduce((sum, v) => sum + 4 + (v?.length ?? 0), 0);
  const buf = message(Backend.DataRow, length);
  buf.writeInt16BE(values.length, 5);
  let at = 7;
  for (const v of encoded) {
    buf.writeInt32BE(v === null ? -1 : v.length, at);
    at += 4;
    if (v) at += v.copy(buf, at);
  }
  return buf;
}

/** CommandComplete with its tag (`SELECT 1`, `SHOW`, `INSERT 0 1`, ...). */
export function commandComplete(tag: string): Buffer {
  const t = Buffer.byteLength(tag);
  const buf = message(Backend.CommandComplete, t + 1);
  buf.write(tag, 5, 'utf8');
  buf[5 + t] = 0;
  return buf;
}
