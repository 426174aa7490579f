import { type ErrorCode, isPoolpilotError } from '../core/errors.js';
import type { ErrorFields, Severity } from './backend-messages.js';

/**
 * SQLSTATEs the front sends, and the one mapping from poolpilot's error codes to them, so a
 * driver's error handling (retry on class 08, on 53300, on 57014) works as against PostgreSQL.
 * The table is in the README.
 */
export const SqlState = {
  ConnectionFailure: '08006',
  ProtocolViolation: '08P01',
  FeatureNotSupported: '0A000',
  InvalidParameterValue: '22023',
  InvalidAuthorizationSpecification: '28000',
  InvalidPassword: '28P01',
  InvalidCatalogName: '3D000',
  SyntaxError: '42601',
  InsufficientPrivilege: '42501',
  UndefinedObject: '42704',
  InFailedTransaction: '25P02',
  DuplicatePreparedStatement: '42P05',
  TooManyConnections: '53300',
  ConfigurationLimitExceeded: '53400',
  CantChangeRuntimeParam: '55P02',
  SerializationFailure: '40001',
  ProgramLimitExceeded: '54000',
  QueryCanceled: '57014',
  AdminShutdown: '57P01',
  CannotConnectNow: '57P03',
  InternalError: 'XX000',
} as const;

/** poolpilot error code → SQLSTATE. BAD_SQL keeps PostgreSQL's own SQLSTATE when it has one. */
export const SQLSTATE_BY_CODE: Readonly<Record<ErrorCode, string>> = {
  UNAUTHENTICATED: SqlState.InvalidAuthorizationSpecification,
  FORBIDDEN: SqlState.InsufficientPrivilege,
  BAD_USER_INPUT: SqlState.InvalidParameterValue,
  BAD_SQL: SqlState.SyntaxError,
  QUERY_TIMEOUT: SqlState.QueryCanceled,
  QUEUE_FULL: SqlState.TooManyConnections,
  DB_UNAVAILABLE: SqlState.ConnectionFailure,
  OPTIMIZATION_NOT_FOUND: SqlState.UndefinedObject,
  INTERNAL: SqlState.InternalError,
  CANCELLED: SqlState.QueryCanceled,
};

/**
 * ErrorResponse fields for any error thrown below the front. A PoolpilotError keeps its message
 * and code; anything else is masked as an internal error, as the GraphQL side does.
 */
export function errorFieldsFor(error: unknown, severity: Severity = 'ERROR'): ErrorFields {
  if (!isPoolpilotError(error)) {
    return { severity, code: SqlState.InternalError, message: 'internal error' };
  }
  const pgState = error.details.sqlstate;
  const code =
    error.code === 'BAD_SQL' && typeof pgState === 'string' && /^[0-9A-Z]{5}$/.test(pgState)
      ? pgState
      : SQLSTATE_BY_CODE[error.code];
  const fields: ErrorFields = {
    severity,
    code,
    message: error.message,
    detail: `poolpilot code ${error.code}`,
  };
  if (typeof error.details.position === 'number') fields.position = error.details.position;
  if (typeof error.details.hint === 'string') fields.hint = error.details.hint;
  return fields;
}
