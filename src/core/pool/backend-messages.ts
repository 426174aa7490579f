import { DatabaseError } from 'pg-protocol';

/** Backend message type bytes this side reads (the PostgreSQL protocol's letters). */
export const Msg = {
  Authentication: 0x52, // R
  BackendKeyData: 0x4b, // K
  BindComplete: 0x32, // 2
  CloseComplete: 0x33, // 3
  CommandComplete: 0x43, // C
  CopyData: 0x64, // d
  CopyDone: 0x63, // c
  CopyInResponse: 0x47, // G
  CopyOutResponse: 0x48, // H
  CopyBothResponse: 0x57, // W
  DataRow: 0x44, // D
  EmptyQueryResponse: 0x49, // I
  ErrorResponse: 0x45, // E
  NoData: 0x6e, // n
  NoticeResponse: 0x4e, // N
  NotificationResponse: 0x41, // A
  ParameterDescription: 0x74, // t
  ParameterStatus: 0x53, // S
  ParseComplete: 0x31, // 1
  PortalSuspended: 0x73, // s
  ReadyForQuery: 0x5a, // Z
  RowDescription: 0x54, // T
} as const;

/** A column as RowDescription describes it, every field kept. */
export interface FieldDescription {
  name: string;
  /** OID of the table the column comes from, or 0. */
  tableID: number;
  /** Attribute number within that table, or 0. */
  columnID: number;
  dataTypeID: number;
  dataTypeSize: number;
  dataTypeModifier: number;
  /** 0 text, 1 binary. */
  format: number;
}

export function readRowDescription(body: Buffer): FieldDescription[] {
  const count = body.readInt16BE(0);
  const fields: FieldDescription[] = new Array(count);
  let offset = 2;
  for (let i = 0; i < count; i++) {
    const nul = body.indexOf(0, offset);
    const name = body.toString('utf8', offset, nul);
    offset = nul + 1;
    fields[i] = {
      name,
      tableID: body.readUInt32BE(offset),
      columnID: body.readInt16BE(offset + 4),
      dataTypeID: body.readUInt32BE(offset + 6),
      dataTypeSize: body.readInt16BE(offset + 10),
      dataTypeModifier: body.readInt32BE(offset + 12),
      format: body.readInt16BE(offset + 16),
    };
    offset += 18;
  }
  return fields;
}

/** A row's values as text (null for SQL NULL), in column order. */
export function readDataRow(body: Buffer): (string | null)[] {
  const count = body.readInt16BE(0);
  const values: (string | null)[] = new Array(count);
  let offset = 2;
  for (let i = 0; i < count; i++) {
    const length = body.readInt32BE(offset);
    offset += 4;
    if (length === -1) {
      values[i] = null;
    } else {
      values[i] = body.toString('utf8', offset, offset + length);
      offset += length;
    }
  }
  return values;
}

export function readCString(body: Buffer, offset = 0): string {
  const nul = body.indexOf(0, offset);
  return body.toString('utf8', offset, nul === -1 ? body.length : nul);
}

/** ParameterStatus: name and value. */
export function readParameterStatus(body: Buffer): [string, string] {
  const nul = body.indexOf(0);
  return [body.toString('utf8', 0, nul), body.toString('utf8', nul + 1, body.indexOf(0, nul + 1))];
}

const ERROR_FIELDS: Record<string, keyof DatabaseError> = {
  S: 'severity',
  C: 'code',
  D: 'detail',
  H: 'hint',
  P: 'position',
  p: 'internalPosition',
  q: 'internalQuery',
  W: 'where',
  s: 'schema',
  t: 'table',
  c: 'column',
  d: 'dataType',
  n: 'constraint',
  F: 'file',
  L: 'line',
  R: 'routine',
};

/** ErrorResponse / NoticeResponse as pg's DatabaseError, so error handling reads the same fields. */
export function readError(body: Buffer, name: 'error' | 'notice' = 'error'): DatabaseError {
  const fields: Record<string, string> = {};
  let offset = 0;
  while (offset < body.length && body[offset] !== 0) {
    const key = String.fromCharCode(body[offset]!);
    const nul = body.indexOf(0, offset + 1);
    fields[key] = body.toString('utf8', offset + 1, nul);
    offset = nul + 1;
  }
  const error = new DatabaseError(fields.M ?? 'unknown server error', body.length, name);
  const target = error as unknown as Record<string, string>;
  for (const [key, value] of Object.entries(fields)) {
    const prop = ERROR_FIELDS[key];
    if (prop) target[prop] = value;
  }
  // pg keeps the non-localized severity in severity when the server sends it (V).
  if (fields.V) target.severity = fields.V;
  return error;
}

/** "INSERT 0 5" → 5, "SELECT 3" → 3; null for commands without a count. */
export function commandRowCount(tag: string): number | null {
  const space = tag.lastIndexOf(' ');
  if (space === -1) return null;
  const n = Number(tag.slice(space + 1));
  return Number.isInteger(n) ? n : null;
}

export function commandName(tag: string): string {
  const space = tag.indexOf(' ');
  return space === -1 ? tag : tag.slice(0, space);
}
