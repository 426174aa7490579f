import { ErrorCode } from '../../core/index.js';

/** A request that is not one of the REST routes' (wrong method, media type, malformed JSON). */
export const BAD_REQUEST = 'BAD_REQUEST';

/**
 * The HTTP status of each contract code on the REST routes. The body carries the code itself, as
 * GraphQL's `extensions.code` does, so a script can tell QUEUE_FULL from DB_UNAVAILABLE.
 */
const STATUS: Readonly<Record<string, number>> = {
  [BAD_REQUEST]: 400,
  [ErrorCode.BadUserInput]: 400,
  [ErrorCode.BadSql]: 400,
  [ErrorCode.Unauthenticated]: 401,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.OptimizationNotFound]: 404,
  [ErrorCode.QueueFull]: 503,
  [ErrorCode.DbUnavailable]: 503,
  // The statement ran out of time upstream: poolpilot is the gateway, PostgreSQL the origin.
  [ErrorCode.QueryTimeout]: 504,
  [ErrorCode.Internal]: 500,
};

export function restStatus(code: string): number {
  return STATUS[code] ?? 500;
}

export interface RestErrorBody {
  /** The contract code of the first error. */
  code: string;
  message: string;
  /** Every error as GraphQL reports it (message, path, extensions with code, SQLSTATE, ...). */
  errors: { message: string; path?: readonly (string | number)[]; extensions: Record<string, unknown> }[];
}

interface ErrorLike {
  message?: unknown;
  path?: readonly (string | number)[];
  extensions?: Record<string, unknown>;
}

/**
 * The REST answer for errors from a GraphQL execution (already mapped and masked by the GraphQL
 * layer) or from SOFA's own argument parsing, which carries only an HTTP status.
 */
export function restErrorBody(errors: readonly unknown[]): { status: number; body: RestErrorBody } {
  const list = errors.map((raw) => {
    const e = (raw ?? {}) as ErrorLike;
    const { http, ...extensions } = e.extensions ?? {};
    const httpStatus = (http as { status?: number } | undefined)?.status;
    const code =
      typeof extensions.code === 'string'
        ? extensions.code
        : httpStatus !== undefined && httpStatus < 500
          ? ErrorCode.BadUserInput
          : ErrorCode.Internal;
    // Anything without a code did not pass through the GraphQL layer's mapping: mask it.
    const message =
      code === ErrorCode.Internal && typeof extensions.code !== 'string'
        ? 'Unexpected error.'
        : String(e.message ?? 'error');
    return { message, ...(e.path ? { path: e.path } : {}), extensions: { ...extensions, code } };
  });
  const first = list[0] ?? { message: 'Unexpected error.', extensions: { code: ErrorCode.Internal } };
  const code = first.extensions.code as string;
  return { status: restStatus(code), body: { code, message: first.message, errors: list } };
}

export function restError(code: string, message: string): { status: number; body: RestErrorBody } {
  return restErrorBody([{ message, extensions: { code } }]);
}
