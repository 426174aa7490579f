import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { signatureAlgorithmHashFromCertificate } from 'pg/lib/crypto/cert-signatures.js';
import {
  DEFAULT_ITERATIONS,
  decodeBase64,
  hmac,
  SCRAM_KEY_BYTES,
  type ScramVerifier,
} from './scram-verifier.js';

export const SCRAM_MECHANISM = 'SCRAM-SHA-256';
/** SCRAM with tls-server-end-point channel binding (RFC 5929), offered to clients on TLS. */
export const SCRAM_PLUS_MECHANISM = 'SCRAM-SHA-256-PLUS';
const CHANNEL_BINDING_TYPE = 'tls-server-end-point';

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
 * The server side of one SCRAM-SHA-256 exchange (RFC 5802, RFC 7677), and of SCRAM-SHA-256-PLUS
 * when the client is on TLS: then the client proves it sees the same server certificate (its
 * hash, `channelBinding`), so a man in the middle holding another certificate cannot relay the
 * login. An unknown user gets a mock verifier and runs the same steps, so neither the messages
 * nor their timing tell whether the user exists; the final check then fails.
 */
export class ScramExchange {
  private readonly verifier: ScramVerifier;
  private readonly known: boolean;
  /** tls-server-end-point data when the client is on TLS (PLUS is offered); null in plaintext. */
  private readonly channelBinding: Buffer | null;
  /** The mechanism the client chose (set before `start`). */
  private mechanism = SCRAM_MECHANISM;
  private gs2Header = '';
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';

  constructor(user: string, verifier: ScramVerifier | null, channelBinding: Buffer | null = null) {
    this.known = verifier !== null;
    this.verifier = verifier ?? mockVerifier(user);
    this.channelBinding = channelBinding;
  }

  /** The mechanisms to offer: PLUS first when channel binding is possible. */
  get mechanisms(): string[] {
    return this.channelBinding ? [SCRAM_PLUS_MECHANISM, SCRAM_MECHANISM] : [SCRAM_MECHANISM];
  }

  /** Whether the exchange binds the channel (the client chose SCRAM-SHA-256-PLUS). */
  get bound(): boolean {
    return this.mechanism === SCRAM_PLUS_MECHANISM;
  }

  /** Takes the client's chosen mechanism; throws when it was not offered. */
  choose(mechanism: string): void {
    if (!this.mechanisms.includes(mechanism)) {
      throw new ScramProtocolError(`client selected an invalid SASL authentication mechanism: ${mechanism}`);
    }
    this.mechanism = mechanism;
  }

  /** Takes client-first-message, returns server-first-message. */
  start(clientFirst: string): string {
    // gs2-header: cbind-flag "," [authzid] ","
    const first = clientFirst.indexOf(',');
    const second = first === -1 ? -1 : clientFirst.indexOf(',', first + 1);
    if (second === -1) throw new ScramProtocolError('malformed SCRAM message: missing GS2 header');
    const flag = clientFirst.slice(0, first);
    if (this.bound) {
      if (flag !== `p=${CHANNEL_BINDING_TYPE}`) {
        throw new ScramProtocolError(
          `malformed SCRAM message: ${SCRAM_PLUS_MECHANISM} needs channel binding type ${CHANNEL_BINDING_TYPE}`,
        );
      }
    } else if (flag.startsWith('p=')) {
      throw new ScramProtocolError(
        'malformed SCRAM message: the client requires channel binding but did not select SCRAM-SHA-256-PLUS',
      );
    } else if (flag === 'y' && this.channelBinding) {
      // The client could bind and believes the server cannot: someone removed PLUS from the offer.
      throw new ScramProtocolError(
        'SCRAM channel binding negotiation error: the client supports SCRAM-SHA-256-PLUS, which the server offered',
      );
    } else if (flag !== 'n' && flag !== 'y') {
      throw new ScramProtocolError('malformed SCRAM message: unexpected channel-binding flag');
    }
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
    const expected = Buffer.concat([
      Buffer.from(this.gs2Header, 'latin1'),
      this.bound ? this.channelBinding! : Buffer.alloc(0),
    ]);
    if (binding === null || binding.length !== expected.length || !timingSafeEqual(binding, expected)) {
      throw new ScramProtocolError(
        this.bound
          ? 'SCRAM channel binding check failed: the client saw another server certificate'
          : 'malformed SCRAM message: channel binding data does not match the GS2 header',
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

/**
 * tls-server-end-point channel-binding data (RFC 5929 section 4.1): the hash of the server's
 * certificate with its signature's hash algorithm, SHA-256 in place of MD5 or SHA-1.
 */
export function serverEndPoint(certificateDer: Buffer): Buffer {
  let hash = signatureAlgorithmHashFromCertificate(certificateDer);
  if (hash === 'MD5' || hash === 'SHA-1') hash = 'SHA-256';
  return createHash(hash.replace('-', '').toLowerCase()).update(certificateDer).digest();
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
