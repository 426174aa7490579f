import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  DEFAULT_ITERATIONS,
  decodeBase64,
  hmac,
  SCRAM_KEY_BYTES,
  type ScramVerifier,
} from './scram-verifier.js';

export const SCRAM_MECHANISM = 'SCRAM-SHA-256';

/** A client message that does not follow RFC 5802: the exchange ends with 08P01 and the socket closes. */
export class ScramProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScramProtocolError';
  }
}

// A per-process secret, so that the fake salt shown for an unknown user is stable across attempts
// (a changing salt would tell the user does not exist) yet cannot be predicted by a client.
const MOCK_SECRET = randomBytes(32);
const MAX_NONCE_CHARS = 1024;
const PRINTABLE_NONCE = /^[\x21-\x2b\x2d-\x7e]+$/;

/**
 * The server side of one SCRAM-SHA-256 exchange (RFC 5802, RFC 7677), without channel binding.
 * An unknown user gets a mock verifier and runs the same steps, so neither the messages nor
 * their timing tell whether the user exists; the final check then fails.
 */
export class ScramExchange {
  private readonly verifier: ScramVerifier;
  private readonly known: boolean;
  private gs2Header = '';
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';

  constructor(user: string, verifier: ScramVerifier | null) {
    this.known = verifier !== null;
    this.verifier = verifier ?? mockVerifier(user);
  }

  /** Takes client-first-message, returns server-first-message. */
  start(clientFirst: string): string {
    // gs2-header: cbind-flag "," [authzid] ","
    const first = clientFirst.indexOf(',');
    const second = first === -1 ? -1 : clientFirst.indexOf(',', first + 1);
    if (second === -1) throw new ScramProtocolError('malformed SCRAM message: missing GS2 header');
    const flag = clientFirst.slice(0, first);
    if (flag.startsWith('p=')) {
      throw new ScramProtocolError(
        'malformed SCRAM message: channel binding (SCRAM-SHA-256-PLUS) was not offered by the server',
      );
    }
    if (flag !== 'n' && flag !== 'y')
      throw new ScramProtocolError('malformed SCRAM message: unexpected channel-binding flag');
    if (second !== first + 1) {
      throw new ScramProtocolError('malformed SCRAM message: authorization identity is not supported');
    }
    this.gs2Header = clientFirst.slice(0, second + 1);
    this.clientFirstBare = clientFirst.slice(second + 1);
    const attrs = this.clientFirstBare.split(',');
    if (attrs[0]?.startsWith('m='))
      throw new ScramProtocolError('malformed SCRAM message: unsupported mandatory extension');
    // The user name in the message is ignored, as PostgreSQL does: the startup packet's user counts.
    if (!attrs[0]?.startsWith('n=') || !/^n=(?:[^,=]|=2C|=3D)*$/.test(attrs[0])) {
      throw new ScramProtocolError('malformed SCRAM message: expected n=<user name>');
    }
    const clientNonce = attrs[1]?.startsWith('r=') ? attrs[1].slice(2) : '';
    if (!clientNonce || clientNonce.length > MAX_NONCE_CHARS || !PRINTABLE_NONCE.test(clientNonce)) {
      throw new ScramProtocolError('malformed SCRAM message: expected r=<nonce> of printable characters');
    }
    for (const extension of attrs.slice(2)) {
      if (!/^[a-zA-Z]=/.test(extension))
        throw new ScramProtocolError('malformed SCRAM message: bad attribute');
    }
    this.nonce = clientNonce + randomBytes(18).toString('base64');
    const v = this.verifier;
    this.serverFirst = `r=${this.nonce},s=${v.salt.toString('base64')},i=${v.iterations}`;
    return this.serverFirst;
  }

  /**
   * Takes client-final-message. Returns server-final-message when the proof matches, null when
   * it does not (wrong password or unknown user).
   */
  finish(clientFinal: string): string | null {
    const attrs = clientFinal.split(',');
    if (attrs.length < 3 || !attrs[0]!.startsWith('c=') || !attrs[1]!.startsWith('r=')) {
      throw new ScramProtocolError('malformed SCRAM message: expected c=...,r=...,p=...');
    }
    const binding = decodeBase64(attrs[0]!.slice(2));
    if (binding === null || binding.toString('latin1') !== this.gs2Header) {
      throw new ScramProtocolError(
        'malformed SCRAM message: channel binding data does not match the GS2 header',
      );
    }
    if (attrs[1]!.slice(2) !== this.nonce)
      throw new ScramProtocolError('malformed SCRAM message: nonce mismatch');
    const last = attrs[attrs.length - 1]!;
    const proof = last.startsWith('p=') ? decodeBase64(last.slice(2)) : null;
    if (proof?.length !== SCRAM_KEY_BYTES) {
      throw new ScramProtocolError('malformed SCRAM message: expected p=<proof> of 32 bytes, last');
    }
    const withoutProof = clientFinal.slice(0, clientFinal.length - last.length - 1);
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const signature = hmac(this.verifier.storedKey, authMessage);
    for (let i = 0; i < SCRAM_KEY_BYTES; i++) signature[i]! ^= proof[i]!;
    const presented = createHash('sha256').update(signature).digest();
    const matches = timingSafeEqual(presented, this.verifier.storedKey);
    if (!matches || !this.known) return null;
    return `v=${hmac(this.verifier.serverKey, authMessage).toString('base64')}`;
  }
}

function mockVerifier(user: string): ScramVerifier {
  return {
    iterations: DEFAULT_ITERATIONS,
    salt: hmac(MOCK_SECRET, `salt:${user}`).subarray(0, 16),
    storedKey: hmac(MOCK_SECRET, `stored:${user}`),
    serverKey: hmac(MOCK_SECRET, `server:${user}`),
  };
}

/** Splits a SASLInitialResponse body: mechanism name, then the client's first message. */
export function parseSaslInitialResponse(body: Buffer): { mechanism: string; data: string } {
  const nul = body.indexOf(0);
  if (nul <= 0 || body.length < nul + 5)
    throw new ScramProtocolError('malformed SASLInitialResponse message');
  const mechanism = body.toString('utf8', 0, nul);
  const length = body.readInt32BE(nul + 1);
  if (length < 0 || length !== body.length - nul - 5) {
    throw new ScramProtocolError('malformed SASLInitialResponse message: bad length of the initial response');
  }
  return { mechanism, data: body.toString('utf8', nul + 5) };
}
