import { ErrorCode, PoolpilotError } from '../errors.js';
import { parseLsn } from '../pool/index.js';

/** How a statement with a causal token (afterLsn) was served. */
export type ConsistencyReason = 'REPLICA_CAUGHT_UP' | 'WAITED' | 'PRIMARY_FALLBACK' | 'PRIMARY';

export interface Consistency {
  /** The position asked for, as given (normalized to upper-case hex). */
  afterLsn: string;
  /** The target that served it. */
  servedAt: string;
  /** Time spent waiting for a replica to replay afterLsn, ms. */
  waitedMs: number;
  reason: ConsistencyReason;
}

/** A WAL position as PostgreSQL prints it: hex/hex, each part at most 8 digits. */
const LSN_TEXT = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;

/** `text` as a WAL position, or BAD_USER_INPUT naming what was expected. */
export function parseAfterLsn(text: string, what = 'afterLsn'): bigint {
  const trimmed = text.trim();
  const lsn = LSN_TEXT.test(trimmed) ? parseLsn(trimmed) : null;
  if (lsn === null)
    throw new PoolpilotError(
      ErrorCode.BadUserInput,
      `${what} ${JSON.stringify(text.slice(0, 40))} is not a WAL position: expected hex/hex as pg_current_wal_lsn() prints it, e.g. 0/16B3748`,
      { details: { argument: what } },
    );
  return lsn;
}

/** A position as PostgreSQL prints it. */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** `/* poolpilot.after_lsn=0/16B3748 *\/` anywhere in a statement's text. */
const HINT = /\/\*\s*poolpilot\.after_lsn\s*=\s*'?([^\s*']*)'?\s*\*\//i;

/**
 * The causal token a statement's comment hint carries, null when it has none; a hint whose value
 * is not a WAL position is BAD_USER_INPUT (ignoring it could serve a stale read).
 */
export function hintedAfterLsn(sql: string): bigint | null {
  if (!/poolpilot\.after_lsn/i.test(sql)) return null;
  const match = HINT.exec(sql);
  if (!match) return null;
  return parseAfterLsn(match[1] ?? '', 'the poolpilot.after_lsn hint');
}

/** The later of two positions (null: none). */
export function laterLsn(a: bigint | null, b: bigint | null): bigint | null {
  if (a === null) return b;
  if (b === null) return a;
  return a > b ? a : b;
}
