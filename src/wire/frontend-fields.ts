import { FrameError } from './frame-reader.js';

/**
 * Field readers for the frontend messages a proxy looks into (to route, to track statements and
 * portals). Each reads only what it returns, straight from the body slice; bodies that end early
 * are a protocol violation.
 */

/** A NUL-terminated string at `at`; returns it and the offset after its terminator. */
export function readCString(body: Buffer, at: number): [string, number] {
  const end = body.indexOf(0, at);
  if (end === -1) throw new FrameError('08P01', 'invalid string in message: missing terminator');
  return [body.toString('utf8', at, end), end + 1];
}

/** Query ('Q'): the SQL text. */
export function readQuery(body: Buffer): string {
  return readCString(body, 0)[0];
}

/** Parse ('P'): statement name ('' = unnamed), SQL text and the parameter type OIDs given. */
export function readParse(body: Buffer): { statement: string; query: string; paramTypes: number[] } {
  const [statement, afterName] = readCString(body, 0);
  const [query, afterQuery] = readCString(body, afterName);
  if (afterQuery + 2 > body.length)
    throw new FrameError('08P01', 'invalid Parse message: missing parameter count');
  const count = body.readInt16BE(afterQuery);
  if (count < 0 || afterQuery + 2 + count * 4 > body.length) {
    throw new FrameError('08P01', 'invalid Parse message: parameter types run past the end');
  }
  const paramTypes: number[] = [];
  for (let i = 0; i < count; i++) paramTypes.push(body.readUInt32BE(afterQuery + 2 + i * 4));
  return { statement, query, paramTypes };
}

/** Bind ('B'): destination portal and source statement; the parameters stay in the body. */
export function readBind(body: Buffer): { portal: string; statement: string } {
  const [portal, afterPortal] = readCString(body, 0);
  const [statement] = readCString(body, afterPortal);
  return { portal, statement };
}

/** Describe ('D') and Close ('C'): 'S' for a prepared statement or 'P' for a portal, and its name. */
export function readTarget(body: Buffer): { kind: 'S' | 'P'; name: string } {
  const kind = body[0];
  if (kind !== 0x53 && kind !== 0x50)
    throw new FrameError('08P01', 'invalid Describe/Close message: expected S or P');
  return { kind: kind === 0x53 ? 'S' : 'P', name: readCString(body, 1)[0] };
}

/** Execute ('E'): portal name and row limit (0 = all rows). */
export function readExecute(body: Buffer): { portal: string; maxRows: number } {
  const [portal, after] = readCString(body, 0);
  if (after + 4 > body.length) throw new FrameError('08P01', 'invalid Execute message: missing row limit');
  return { portal, maxRows: body.readInt32BE(after) };
}
