import { createHash } from 'node:crypto';
import type { Analysis } from '../core/analyzer/index.js';
import { Frontend } from './protocol.js';

/**
 * Named prepared statements in transaction pooling, as PgBouncer 1.21 (`max_prepared_statements`)
 * and PgDog do it. A client's statement names are its own: each maps to a server-side name
 * poolpilot owns, derived from the statement's text and parameter types, so every client that
 * prepares the same statement shares one server-side statement per server connection. Each server
 * connection keeps the names it holds (StatementCache, least recently used evicted with a Close);
 * a statement is parsed on a connection when a client's Bind or Describe needs it there.
 */

/** A client's named statement: what its Parse said, under the server-side name, and its analysis. */
export interface ClientStatement {
  readonly name: string;
  readonly serverName: string;
  readonly sql: string;
  /** The client's Parse with the server-side name: sent to any connection that lacks the statement. */
  readonly parse: Buffer;
  /** Judged once, at Parse; every Bind of the statement is placed by it. */
  readonly analysis: Promise<Analysis | null>;
}

/** poolpilot's name for a statement: the same text and parameter types give the same name. */
export function serverStatementName(parseRest: Buffer): string {
  return `pp_${createHash('sha1').update(parseRest).digest('hex')}`;
}

/** A Parse message for `name`, the text and parameter types (`rest`) as the client sent them. */
export function parseMessage(name: string, rest: Buffer): Buffer {
  const nameBytes = Buffer.byteLength(name);
  const frame = Buffer.allocUnsafe(5 + nameBytes + 1 + rest.length);
  frame[0] = Frontend.Parse;
  frame.writeInt32BE(frame.length - 1, 1);
  frame.write(name, 5, 'utf8');
  frame[5 + nameBytes] = 0;
  rest.copy(frame, 6 + nameBytes);
  return frame;
}

/** The same Bind, naming the statement `serverName` instead. */
export function bindFor(body: Buffer, portalEnd: number, statementEnd: number, serverName: string): Buffer {
  const nameBytes = Buffer.byteLength(serverName);
  const rest = body.length - statementEnd;
  const frame = Buffer.allocUnsafe(5 + portalEnd + 1 + nameBytes + rest);
  frame[0] = Frontend.Bind;
  frame.writeInt32BE(frame.length - 1, 1);
  body.copy(frame, 5, 0, portalEnd + 1);
  frame.write(serverName, 6 + portalEnd, 'utf8');
  body.copy(frame, 6 + portalEnd + nameBytes, statementEnd);
  return frame;
}

/** Describe or Close ('S' statement / 'P' portal) of `name`. */
export function statementMessage(type: number, kind: number, name: string): Buffer {
  const nameBytes = Buffer.byteLength(name);
  const frame = Buffer.allocUnsafe(5 + 1 + nameBytes + 1);
  frame[0] = type;
  frame.writeInt32BE(frame.length - 1, 1);
  frame[5] = kind;
  frame.write(name, 6, 'utf8');
  frame[6 + nameBytes] = 0;
  return frame;
}

/**
 * A name no statement has: closing it costs the server nothing and earns a CloseComplete in its
 * place among the replies (PostgreSQL does not complain about closing what does not exist).
 */
export const NO_STATEMENT = 'pp_none';
export const CLOSE_NOTHING = statementMessage(Frontend.Close, 0x53, NO_STATEMENT);

export const KIND_STATEMENT = 0x53; // S

/**
 * What a simple-query `DEALLOCATE` names: `{ all: true }`, a statement name (folded to lower
 * case unless quoted, as PostgreSQL folds it), or null for anything else.
 */
export function deallocation(sql: string): { all: true } | { name: string } | null {
  const m = /^\s*DEALLOCATE\s+(?:PREPARE\s+)?("(?:[^"]|"")+"|[A-Za-z_][\w$]*)\s*;?\s*$/i.exec(sql);
  if (!m) return null;
  const word = m[1]!;
  if (word.startsWith('"')) return { name: word.slice(1, -1).replace(/""/g, '"') };
  if (word.toLowerCase() === 'all') return { all: true };
  return { name: word.toLowerCase() };
}

/** `DISCARD ALL` as a statement of its own: the client's statements go with it. */
export function isDiscardAll(sql: string): boolean {
  return /^\s*DISCARD\s+ALL\s*;?\s*$/i.test(sql);
}
