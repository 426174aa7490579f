import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import saslprep from '@mongodb-js/saslprep';

/**
 * SCRAM-SHA-256 verifiers in PostgreSQL's pg_authid form:
 *   SCRAM-SHA-256$<iterations>:<salt base64>$<StoredKey base64>:<ServerKey base64>
 * The password itself is never kept; a verifier lets the server check a proof, not log in elsewhere.
 */
export interface ScramVerifier {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

export const SCRAM_KEY_BYTES = 32;
export const DEFAULT_ITERATIONS = 4096;
/** Bounds accepted in a verifier: below 1 is meaningless, above this a login would take minutes. */
export const MAX_ITERATIONS = 10_000_000;
const MAX_SALT_BYTES = 1024;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict base64: canonical alphabet and padding, so two spellings of one value cannot both pass. */
export function decodeBase64(text: string): Buffer | null {
  return BASE64.test(text) ? Buffer.from(text, 'base64') : null;
}

/** Parses a verifier; returns what is wrong with it (without echoing it) when it is not one. */
export function parseVerifier(text: string): ScramVerifier | string {
  const match = /^SCRAM-SHA-256\$(\d{1,9}):([^$:]+)\$([^$:]+):([^$:]+)$/.exec(text);
  if (!match) return 'expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>';
  const iterations = Number(match[1]);
  if (iterations < 1 || iterations > MAX_ITERATIONS) return `iterations must be from 1 to ${MAX_ITERATIONS}`;
  const salt = decodeBase64(match[2]!);
  if (!salt || salt.length === 0 || salt.length > MAX_SALT_BYTES) return 'the salt is not valid base64';
  const storedKey = decodeBase64(match[3]!);
  const serverKey = decodeBase64(match[4]!);
  if (storedKey?.length !== SCRAM_KEY_BYTES || serverKey?.length !== SCRAM_KEY_BYTES) {
    return `StoredKey and ServerKey must be base64 of ${SCRAM_KEY_BYTES} bytes`;
  }
  return { iterations, salt, storedKey, serverKey };
}

export function formatVerifier(v: ScramVerifier): string {
  return `SCRAM-SHA-256$${v.iterations}:${v.salt.toString('base64')}$${v.storedKey.toString('base64')}:${v.serverKey.toString('base64')}`;
}

/**
 * The password as the client will hash it: libpq applies SASLprep (RFC 4013) and falls back to
 * the raw bytes when the password is not a valid SASLprep string, as PostgreSQL does.
 */
export function normalizePassword(password: string): string {
  try {
    return saslprep(password);
  } catch {
    return password;
  }
}

/** Computes a verifier as PostgreSQL's `scram_build_secret` does (random 16-byte salt by default). */
export function createVerifier(
  password: string,
  options: { iterations?: number; salt?: Buffer } = {},
): ScramVerifier {
  const iterations = options.iterations ?? DEFAULT_ITERATIONS;
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) {
    throw new RangeError(`iterations must be a whole number from 1 to ${MAX_ITERATIONS}`);
  }
  const salt = options.salt ?? randomBytes(16);
  const salted = pbkdf2Sync(Buffer.from(normalizePassword(password), 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = hmac(salted, 'Client Key');
  return {
    iterations,
    salt,
    storedKey: createHash('sha256').update(clientKey).digest(),
    serverKey: hmac(salted, 'Server Key'),
  };
}

export function hmac(key: Buffer, data: string | Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** The configured `{ name, verifier }` list as the listener's lookup table (verifiers were checked at load). */
export function verifierMap(
  users: ReadonlyArray<{ name: string; verifier: string }>,
): Map<string, ScramVerifier> {
  const map = new Map<string, ScramVerifier>();
  for (const { name, verifier } of users) {
    const parsed = parseVerifier(verifier);
    if (typeof parsed === 'string')
      throw new Error(`verifier of wire user "${name}" is not accepted: ${parsed}`);
    map.set(name, parsed);
  }
  return map;
}
