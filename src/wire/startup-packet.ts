import {
  CANCEL_REQUEST_CODE,
  GSSENC_REQUEST_CODE,
  MAX_STARTUP_PACKET_BYTES,
  SSL_REQUEST_CODE,
} from './protocol.js';

/**
 * The untyped, length-prefixed packets a client may send before it is authenticated: the real
 * StartupMessage, or one of the requests that reuse its version field (SSL, GSSAPI encryption,
 * cancel). Parsing is strict: every length is checked before it is trusted.
 */
export type StartupPacket =
  | { kind: 'ssl' }
  | { kind: 'gssenc' }
  | { kind: 'cancel'; processId: number; secretKey: Buffer }
  | {
      kind: 'startup';
      major: number;
      minor: number;
      /** Ordinary parameters (user, database, application_name, options, GUCs), as sent. */
      parameters: Record<string, string>;
      /** `_pq_.` protocol options: none is supported, so each is named in NegotiateProtocolVersion. */
      protocolOptions: string[];
    };

/** A packet that cannot be accepted; `sqlstate` goes into the FATAL ErrorResponse before closing. */
export class StartupError extends Error {
  readonly sqlstate: string;
  constructor(sqlstate: string, message: string) {
    super(message);
    this.name = 'StartupError';
    this.sqlstate = sqlstate;
  }
}

/** PostgreSQL 18 allows cancel keys of up to 256 bytes; 3.0 keys are 4. */
const MAX_CANCEL_KEY_BYTES = 256;
/** First byte of a TLS ClientHello: a client trying PostgreSQL 17's direct TLS (sslnegotiation=direct). */
const TLS_HANDSHAKE = 0x16;

/**
 * Parses one packet from the start of `buf`. Returns null while it is incomplete, or the packet
 * and the bytes it used. Throws StartupError on anything malformed.
 */
export function parseStartupPacket(buf: Buffer): { packet: StartupPacket; consumed: number } | null {
  if (buf.length >= 1 && buf[0] === TLS_HANDSHAKE) {
    throw new StartupError(
      '08P01',
      'TLS handshake received where a startup packet was expected: direct TLS must be the first thing a client sends',
    );
  }
  if (buf.length < 4) return null;
  const length = buf.readInt32BE(0);
  if (length < 8 || length > MAX_STARTUP_PACKET_BYTES) {
    throw new StartupError(
      '08P01',
      `invalid length of startup packet: ${length} bytes (expected 8 to ${MAX_STARTUP_PACKET_BYTES})`,
    );
  }
  if (buf.length < length) return null;
  const code = buf.readInt32BE(4);
  const body = buf.subarray(8, length);
  return { packet: parseBody(code, length, body), consumed: length };
}

function parseBody(code: number, length: number, body: Buffer): StartupPacket {
  if (code === SSL_REQUEST_CODE || code === GSSENC_REQUEST_CODE) {
    if (length !== 8) {
      throw new StartupError(
        '08P01',
        `invalid length of ${code === SSL_REQUEST_CODE ? 'SSL' : 'GSSENC'} request: ${length}`,
      );
    }
    return { kind: code === SSL_REQUEST_CODE ? 'ssl' : 'gssenc' };
  }
  if (code === CANCEL_REQUEST_CODE) {
    if (body.length < 8 || body.length > 4 + MAX_CANCEL_KEY_BYTES) {
      throw new StartupError('08P01', `invalid length of cancel request: ${length}`);
    }
    return { kind: 'cancel', processId: body.readInt32BE(0), secretKey: Buffer.from(body.subarray(4)) };
  }
  const major = code >>> 16;
  const minor = code & 0xffff;
  if (major !== 3) {
    throw new StartupError(
      '0A000',
      `unsupported frontend protocol ${major}.${minor}: server supports 3.0 (newer 3.x minor versions are negotiated down)`,
    );
  }
  return { kind: 'startup', major, minor, ...parseParameters(body) };
}

function parseParameters(body: Buffer): { parameters: Record<string, string>; protocolOptions: string[] } {
  if (body.length === 0 || body[body.length - 1] !== 0) {
    throw new StartupError('08P01', 'invalid startup packet layout: expected terminator as last byte');
  }
  const parameters: Record<string, string> = Object.create(null);
  const protocolOptions: string[] = [];
  let at = 0;
  const last = body.length - 1;
  while (at < last) {
    const nameEnd = body.indexOf(0, at);
    if (nameEnd === at) {
      throw new StartupError('08P01', 'invalid startup packet layout: expected terminator as last byte');
    }
    const name = body.toString('utf8', at, nameEnd);
    if (nameEnd >= last) {
      throw new StartupError('08P01', `invalid startup packet layout: parameter "${name}" has no value`);
    }
    const valueEnd = body.indexOf(0, nameEnd + 1);
    const value = body.toString('utf8', nameEnd + 1, valueEnd);
    at = valueEnd + 1;
    if (name.startsWith('_pq_.')) protocolOptions.push(name);
    else if (name in parameters) throw new StartupError('08P01', `startup parameter "${name}" given twice`);
    else parameters[name] = value;
  }
  if (at !== last)
    throw new StartupError('08P01', 'invalid startup packet layout: expected terminator as last byte');
  return { parameters, protocolOptions };
}
