/**
 * The one error type the core throws. `code` is one of the contract's error codes, so every
 * surface (GraphQL, CLI, the wire front) can map it without guessing.
 */
export const ErrorCode = {
  Unauthenticated: 'UNAUTHENTICATED',
  Forbidden: 'FORBIDDEN',
  BadUserInput: 'BAD_USER_INPUT',
  BadSql: 'BAD_SQL',
  QueryTimeout: 'QUERY_TIMEOUT',
  QueueFull: 'QUEUE_FULL',
  DbUnavailable: 'DB_UNAVAILABLE',
  OptimizationNotFound: 'OPTIMIZATION_NOT_FOUND',
  Internal: 'INTERNAL',
  /** The caller went away (a closed socket, an aborted request): nobody is waiting for an answer. */
  Cancelled: 'CANCELLED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface ErrorDetails {
  sqlstate?: string;
  position?: number;
  target?: string;
  [key: string]: unknown;
}

export class PoolpilotError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: ErrorDetails } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PoolpilotError';
    this.code = code;
    this.details = options.details ?? {};
  }
}

export function isPoolpilotError(error: unknown): error is PoolpilotError {
  return error instanceof PoolpilotError;
}

// Node socket errors and the SQLSTATEs that mean "the server is gone or refusing us", as opposed
// to "your statement is wrong". Class 08 is connection exceptions; 57P0x are shutdowns.
const UNAVAILABLE_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
]);
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '3D000', '28P01', '28000']);

interface PgLikeError {
  code?: string;
  message?: string;
  position?: string;
  severity?: string;
}

/** True when the error means the connection (not the statement) is unusable. */
export function isConnectionError(error: unknown): boolean {
  const e = error as PgLikeError | undefined;
  if (!e || typeof e !== 'object') return false;
  if (
    e.code &&
    (UNAVAILABLE_ERRNOS.has(e.code) || UNAVAILABLE_SQLSTATES.has(e.code) || e.code.startsWith('08'))
  ) {
    return true;
  }
  const message = e.message ?? '';
  return (
    message.includes('Connection terminated') ||
    message.includes('Client has encountered a connection error') ||
    message.includes('timeout expired') ||
    message.includes('Client was closed')
  );
}

/** Turns whatever `pg` threw into a PoolpilotError with the right contract code. */
export function fromPgError(error: unknown, target: string): PoolpilotError {
  if (isPoolpilotError(error)) return error;
  const e = error as PgLikeError;
  if (isConnectionError(error)) {
    return new PoolpilotError(
      ErrorCode.DbUnavailable,
      `${target} is unavailable: ${e.message ?? String(error)}`,
      {
        cause: error,
        details: { target, ...(e.code ? { sqlstate: e.code } : {}) },
      },
    );
  }
  if (e?.code === '57014') {
    return new PoolpilotError(ErrorCode.QueryTimeout, `statement cancelled on ${target}: ${e.message}`, {
      cause: error,
      details: { target, sqlstate: e.code },
    });
  }
  if (typeof e?.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) {
    const details: ErrorDetails = { target, sqlstate: e.code };
    if (e.position) details.position = Number(e.position);
    return new PoolpilotError(ErrorCode.BadSql, e.message ?? 'SQL error', { cause: error, details });
  }
  return new PoolpilotError(ErrorCode.Internal, e?.message ?? String(error), {
    cause: error,
    details: { target },
  });
}
