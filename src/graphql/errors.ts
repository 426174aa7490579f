import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
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
  // A GraphQL error of its own (no thrown cause, or a GraphQL error as cause: a variable of the
  // wrong type, a coercion failure): keeps its code, or is the request's fault.
  const cause = error instanceof GraphQLError ? error.originalError : undefined;
  if (error instanceof GraphQLError && (cause === undefined || cause instanceof GraphQLError)) {
    const code = error.extensions?.code ?? (cause as GraphQLError | undefined)?.extensions?.code;
    if (typeof code === 'string' && cause === undefined) return error;
    return new GraphQLError(error.message, {
      path,
      nodes: error.nodes,
      extensions: { ...error.extensions, code: typeof code === 'string' ? code : ErrorCode.BadUserInput },
    });
  }
  log.error({ err: original }, 'unexpected error while resolving');
  return new GraphQLError('Unexpected error.', { path, extensions: { code: ErrorCode.Internal } });
}

/**
 * Requests rejected before execution (syntax, unknown fields, operation limits, bad variables)
 * carry no core error: they are the caller's to fix, so they get BAD_USER_INPUT. Applied to
 * parse and validation results, for HTTP and WebSocket alike.
 */
export function useBadUserInputCodes(): Plugin {
  return {
    onParse:
      () =>
      ({ result, replaceParseResult }) => {
        if (result instanceof Error) replaceParseResult(withBadUserInput(result));
      },
    onValidate:
      () =>
      ({ result, setResult }) => {
        if (result.length > 0) setResult(result.map(withBadUserInput));
      },
  };
}

function withBadUserInput(error: Error): GraphQLError {
  const e = error instanceof GraphQLError ? error : new GraphQLError(error.message);
  if (typeof e.extensions?.code === 'string') return e;
  return new GraphQLError(e.message, {
    nodes: e.nodes,
    source: e.source,
    positions: e.positions,
    path: e.path,
    originalError: e.originalError,
    extensions: { ...e.extensions, code: ErrorCode.BadUserInput },
  });
}
