import { GraphQLError } from 'graphql';
import pino, { type DestinationStream } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from '../config/index.js';
import { ErrorCode, isPoolpilotError, type Poolpilot } from '../core/index.js';
import type { Logger } from '../core/logger.js';

/**
 * Structured logs with pino: JSON lines when stdout is a pipe or a file (containers, systemd,
 * log shippers), colourised one-liners when it is a terminal. The level comes from LOG_LEVEL.
 *
 * Secrets never reach a line: connection strings, passwords, tokens and Authorization headers
 * are censored wherever they appear in a logged object, and statements are logged only through
 * `statementForLog`, which blanks their literals.
 */
export interface LoggerOptions {
  /** Where lines go; stdout by default. */
  destination?: DestinationStream & { isTTY?: boolean };
  /** Forces pretty (true) or JSON (false); by default pretty only on a terminal. */
  pretty?: boolean;
}

export const REDACT_PATHS = [
  'password',
  'connectionString',
  'token',
  'authorization',
  '*.password',
  '*.connectionString',
  '*.token',
  '*.authorization',
  '*.*.password',
  '*.*.connectionString',
  'headers.authorization',
  'req.headers.authorization',
  'connectionParams.authorization',
];

export function createLogger(
  level: Config['logLevel'] | 'info' = 'info',
  options: LoggerOptions = {},
): Logger {
  const destination = options.destination ?? process.stdout;
  const usePretty = options.pretty ?? destination.isTTY === true;
  const stream: DestinationStream = usePretty
    ? pretty({
        destination,
        colorize: destination.isTTY === true,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname,name',
        singleLine: true,
        sync: true,
      })
    : destination;
  return pino(
    {
      name: 'poolpilot',
      level,
      redact: { paths: REDACT_PATHS, censor: '****' },
      serializers: { err: pino.stdSerializers.err },
    },
    stream,
  ) as unknown as Logger;
}

/**
 * A statement as it may appear in a log: string literals, dollar-quoted bodies and numbers are
 * blanked (a literal can be a password, as in `ALTER ROLE ... PASSWORD '...'`), whitespace is
 * collapsed and the result is cut to `max` characters.
 */
export function statementForLog(sql: string, max = 500): string {
  const blanked = sql
    .replace(/\$([A-Za-z_][A-Za-z0-9_]*)?\$[\s\S]*?\$\1\$/g, '$$?$$')
    .replace(/[EeBbXxUu]?'(?:[^']|'')*'/g, "'?'")
    .replace(/(?<![\w$])\d+(?:\.\d+)?\b/g, '?')
    .replace(/\s+/g, ' ')
    .trim();
  return blanked.length > max ? `${blanked.slice(0, max - 1)}…` : blanked;
}

/**
 * Logs every statement executeQuery completes slower than `thresholdMs` (warn): its route,
 * target, queue wait, duration and the statement with literals blanked. Returns the function
 * that stops watching.
 */
export function logSlowStatements(poolpilot: Poolpilot, log: Logger, thresholdMs: number): () => void {
  if (thresholdMs <= 0) return () => undefined;
  const slow = log.child({ component: 'slow-statement' });
  return poolpilot.onExecuted((result, sql) => {
    const totalMs = result.durationMs + result.queueWaitMs;
    if (totalMs < thresholdMs) return;
    slow.warn(
      {
        route: result.route,
        target: result.target,
        queued: result.queued,
        queueWaitMs: Math.round(result.queueWaitMs),
        durationMs: Math.round(result.durationMs),
        rowCount: result.rowCount,
        thresholdMs,
        statement: statementForLog(sql),
      },
      `slow statement: ${Math.round(totalMs)} ms, ${result.route} route on ${result.target}`,
    );
  });
}

/** Logs every optimization applied (info) or failed (warn), with who asked. Returns the remover. */
export function logOptimizations(poolpilot: Poolpilot, log: Logger): () => void {
  const applied = log.child({ component: 'optimizer' });
  return poolpilot.optimizer.onApplied((result, actor) => {
    const failed = result.outcome === 'FAILED';
    (failed ? applied.warn : applied.info).call(
      applied,
      {
        id: result.id,
        kind: result.kind,
        outcome: result.outcome,
        actor,
        executed: result.executed.length,
        error: result.error,
      },
      `optimization ${result.id} ${failed ? 'failed' : result.outcome.toLowerCase().replace(/_/g, ' ')}: ${result.title}`,
    );
  });
}

/**
 * The caller's mistakes: logged at info (access) or warn (their SQL or input) with the code, the
 * field, the SQLSTATE and position, and never the message, which quotes values (PostgreSQL's
 * `invalid input syntax for type integer: "..."` repeats a parameter).
 */
const CLIENT_MISTAKES: Partial<Record<string, 'info' | 'warn'>> = {
  [ErrorCode.Unauthenticated]: 'info',
  [ErrorCode.Forbidden]: 'info',
  [ErrorCode.BadUserInput]: 'warn',
  [ErrorCode.BadSql]: 'warn',
  [ErrorCode.OptimizationNotFound]: 'info',
  BAD_REQUEST: 'info',
};

/** Yoga reports every error of an operation here; only what is not the caller's doing is an error. */
export function logOperationError(log: Logger, error: unknown): void {
  const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
  const code = isPoolpilotError(original)
    ? original.code
    : error instanceof GraphQLError
      ? error.extensions?.code
      : undefined;
  const level = typeof code === 'string' ? CLIENT_MISTAKES[code] : undefined;
  const path = error instanceof GraphQLError ? error.path?.join('.') : undefined;
  if (level) {
    const details = isPoolpilotError(original) ? original.details : {};
    log[level](
      { code, path, sqlstate: details.sqlstate, position: details.position, target: details.target },
      `operation refused: ${code}${path ? ` at ${path}` : ''}`,
    );
    return;
  }
  if (isPoolpilotError(original) && original.code !== ErrorCode.Internal) {
    log.warn({ code: original.code, path, target: original.details.target }, original.message);
    return;
  }
  log.error({ err: original, path }, 'operation failed');
}
