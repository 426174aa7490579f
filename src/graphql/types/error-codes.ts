import { ErrorCode } from '../../core/index.js';
import { builder } from '../builder.js';

/** The contract's codes, with what each means for the caller; `extensions.code` carries one. */
const CODES = {
  [ErrorCode.Unauthenticated]:
    'No valid API token: send Authorization: Bearer TOKEN (WebSocket: connectionParams.authorization). HTTP 401.',
  [ErrorCode.Forbidden]: "The token's role is below what the field needs (viewer < operator < admin).",
  [ErrorCode.BadUserInput]:
    'An argument is out of range or malformed, or the document is invalid (syntax, unknown field, limits). ' +
    'The message names the argument and what is accepted.',
  [ErrorCode.BadSql]:
    'PostgreSQL rejected the statement; extensions carry sqlstate and position (1-based) when known.',
  [ErrorCode.QueryTimeout]:
    'The statement ran past its timeout (timeoutMs, DB_STATEMENT_TIMEOUT) or waited past ' +
    'COMPLEX_QUEUE_TIMEOUT_MS in the complex-query queue, and was cancelled.',
  [ErrorCode.QueueFull]: 'The complex-query queue already holds COMPLEX_QUEUE_MAX statements: retry later.',
  [ErrorCode.DbUnavailable]:
    'The target database is unreachable or refusing connections (no primary, or it is shutting down).',
  [ErrorCode.OptimizationNotFound]:
    'applyOptimization: no current suggestion has this id (unknown, or its problem is gone). ' +
    'The attempt is still recorded in optimizationHistory with outcome NOT_FOUND.',
  [ErrorCode.Internal]: 'An unexpected error; details are in the server log, never in the response.',
  BAD_REQUEST: 'Not GraphQL over HTTP (malformed JSON, wrong method or content type); HTTP 400.',
} as const;

type Code = keyof typeof CODES;

export const ErrorCodeEnum = builder.enumType('ErrorCode', {
  description: 'What extensions.code of a GraphQL error can be. Codes are stable; messages are for people.',
  values: Object.fromEntries(
    Object.entries(CODES).map(([code, description]) => [code, { value: code as Code, description }]),
  ) as Record<Code, { value: Code; description: string }>,
});

const ErrorCodeInfoRef = builder.objectRef<Code>('ErrorCodeInfo').implement({
  description: 'One error code and what it means.',
  fields: (t) => ({
    code: t.field({ type: ErrorCodeEnum, description: 'The value of extensions.code.', resolve: (c) => c }),
    description: t.string({ description: 'When it is raised and what to do.', resolve: (c) => CODES[c] }),
  }),
});

builder.queryField('errorCodes', (t) =>
  t.field({
    type: [ErrorCodeInfoRef],
    description: 'Every code errors carry in extensions.code, so clients can switch on them.',
    resolve: () => Object.keys(CODES) as Code[],
  }),
);
