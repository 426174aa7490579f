import { GraphQLError } from 'graphql';
import type { Logger } from '../core/index.js';
import { ErrorCode, isPoolpilotError } from '../core/index.js';

const HTTP_STATUS: Partial<Record<string, number>> = {
  [ErrorCode.Unauthenticated]: 401,
};

/**
 * The one place where core errors become GraphQL errors: a PoolpilotError keeps its message and
 * its contract code (plus SQLSTATE, position, target); anything else is logged and masked.
 */
export function toGraphQLError(error: unknown, log: Logger): GraphQLError {
  const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
  const path = error instanceof GraphQLError ? error.path : undefined;
  if (isPoolpilotError(original)) {
    const status = HTTP_STATUS[original.code];
    return new GraphQLError(original.message, {
      path,
      extensions: { code: original.code, ...original.details, ...(status ? { http: { status } } : {}) },
    });
  }
  if (error instanceof GraphQLError && typeof error.extensions?.code === 'string' && !error.originalError) {
    return error;
  }
  log.error({ err: original }, 'unexpected error while resolving');
  return new GraphQLError('Unexpected error.', { path, extensions: { code: ErrorCode.Internal } });
}
