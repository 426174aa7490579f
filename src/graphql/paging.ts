import { ErrorCode, PoolpilotError } from '../core/index.js';

/**
 * limit/offset over a list the core computes up to `cap` rows: out-of-range values are refused with
 * the cap named, never clamped silently.
 */
export interface Page {
  limit: number;
  offset: number;
  /** Rows to ask the core for: the page and everything before it. */
  through: number;
}

export function page(field: string, limit: number, offset: number, cap: number): Page {
  if (!Number.isInteger(limit) || limit < 1 || limit > cap) {
    throw new PoolpilotError(
      ErrorCode.BadUserInput,
      `${field}: limit must be a whole number from 1 to ${cap}; got ${limit}`,
      { details: { argument: 'limit', cap } },
    );
  }
  if (!Number.isInteger(offset) || offset < 0 || offset + limit > cap) {
    throw new PoolpilotError(
      ErrorCode.BadUserInput,
      `${field}: offset must be a whole number from 0 with offset + limit at most ${cap}; got offset ${offset}, limit ${limit}`,
      { details: { argument: 'offset', cap } },
    );
  }
  return { limit, offset, through: offset + limit };
}

export function pageDescription(cap: number): { limit: string; offset: string } {
  return {
    limit: `Rows to return, 1..${cap}; more is a BAD_USER_INPUT error naming the cap.`,
    offset: `Rows to skip first, for the next page; offset + limit at most ${cap} (the first ${cap} rows in this order are reachable).`,
  };
}
