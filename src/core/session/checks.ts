import type { Analysis } from '../analyzer/index.js';
import { ErrorCode, isPoolpilotError, PoolpilotError } from '../errors.js';

/** The per-call limits, checked before anything is sent: at most the configured ones. */
export function checkTimeout(timeoutMs: number | undefined | null, limit: number): number {
  if (timeoutMs === undefined || timeoutMs === null) return limit;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > limit) {
    throw new PoolpilotError(
      ErrorCode.BadUserInput,
      `timeoutMs must be a whole number from 1 to ${limit} (DB_STATEMENT_TIMEOUT); got ${timeoutMs}`,
    );
  }
  return timeoutMs;
}

export function checkMaxRows(maxRows: number | undefined | null, limit: number): number {
  if (maxRows === undefined || maxRows === null) return limit;
  if (!Number.isInteger(maxRows) || maxRows < 0 || maxRows > limit) {
    throw new PoolpilotError(
      ErrorCode.BadUserInput,
      `maxRows must be a whole number from 0 to ${limit} (EXECUTE_MAX_ROWS); got ${maxRows}`,
    );
  }
  return maxRows;
}

/**
 * PostgreSQL's protocol ends strings at a NUL byte while the server refuses the whole message, so
 * a NUL in a text parameter is the caller's mistake, not a database failure. Checked in arrays
 * too. (A NUL in the SQL is refused earlier, by the analyzer, whose
 * parser would otherwise judge only the text before it.)
 */
export function checkNulBytes(params: readonly unknown[]): void {
  params.forEach((param, i) => {
    if (containsNul(param)) {
      throw new PoolpilotError(
        ErrorCode.BadUserInput,
        `parameter $${i + 1} contains a NUL byte; PostgreSQL does not accept NUL in text (send binary data as a bytea literal such as '\\x00')`,
        { details: { parameter: i + 1 } },
      );
    }
  });
}

/** Strings and arrays (sent as array literals) carry raw text; objects go as JSON, NUL escaped. */
function containsNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\0');
  if (!Array.isArray(value) || depth > 64) return false;
  return value.some((v) => containsNul(v, depth + 1));
}

/**
 * What a session refuses before anything is sent, for one statement on its own (`statement`) or
 * one of a transaction it runs (`transaction`). `details.refused` names the rule, so a surface
 * can add its own advice (GraphQL names the field to use instead).
 */
export function checkStatement(
  analysis: Analysis,
  params: unknown[],
  mode: 'statement' | 'transaction',
): void {
  checkNulBytes(params);
  // Every check below needs the parse: a statement the analyzer could not judge is never exempt.
  if (!analysis.judged)
    throw new PoolpilotError(ErrorCode.BadUserInput, analysis.note ?? 'the statement could not be judged');
  if (analysis.parseError) return; // the primary reports the syntax error with its SQLSTATE and position
  if (analysis.statementCount > 1) {
    throw new PoolpilotError(
      ErrorCode.BadUserInput,
      `one statement per call; got ${analysis.statementCount}`,
      { details: { refused: 'several-statements' } },
    );
  }
  if (analysis.transactionControl) {
    throw new PoolpilotError(
      ErrorCode.BadUserInput,
      mode === 'statement'
        ? `${analysis.features.statements[0]} cannot be sent on its own: a transaction cannot span calls`
        : `${analysis.features.statements[0]} cannot be one of a transaction's statements: the transaction is begun and committed for you`,
      { details: { refused: 'transaction-control' } },
    );
  }
  if (analysis.features.params !== params.length) {
    throw new PoolpilotError(
      ErrorCode.BadUserInput,
      `the statement uses ${analysis.features.params} parameter(s) ($1..$${analysis.features.params}) but ${params.length} were given`,
      { details: { expected: analysis.features.params, given: params.length } },
    );
  }
}

export function atStatement(error: unknown, index: number): unknown {
  if (!isPoolpilotError(error)) return error;
  return new PoolpilotError(error.code, `statement ${index + 1}: ${error.message}`, {
    cause: error.cause ?? error,
    details: { ...error.details, statement: index },
  });
}

/** Longest caller-chosen session name, in characters. */
export const MAX_SESSION_NAME = 200;

/**
 * A caller-chosen session name (read-your-writes is kept per session): 1..MAX_SESSION_NAME
 * printable characters; null or undefined means none.
 */
export function checkSessionName(name: string | null | undefined, what = 'session'): string | null {
  if (name === undefined || name === null) return null;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (name.length === 0 || name.length > MAX_SESSION_NAME || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new PoolpilotError(
      ErrorCode.BadUserInput,
      `${what} must be 1 to ${MAX_SESSION_NAME} printable characters; got ${JSON.stringify(name.slice(0, 40))}${name.length > 40 ? '...' : ''}`,
      { details: { argument: what } },
    );
  }
  return name;
}
