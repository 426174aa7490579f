/**
 * What a `poolpilot` command's exit status means. Scripts can rely on these: they do not change
 * between versions.
 */
export const ExitCode = {
  /** Done; for `analyze`/`report`, the service is ok. */
  Ok: 0,
  /** The command ran but found a problem: degraded or down service, failed statements in `test`, an optimization that failed. */
  Problem: 1,
  /** Bad arguments or options. */
  Usage: 2,
  /** The server could not be reached (connection refused, timeout, not poolpilot). */
  Unreachable: 3,
  /** The token is missing, unknown, or its role is not allowed to do this. */
  Unauthorized: 4,
  /** The server does not offer what the command needs (an older or partial version). */
  Unsupported: 5,
  /** The server answered with an error (BAD_SQL, QUERY_TIMEOUT, OPTIMIZATION_NOT_FOUND, ...). */
  Failed: 6,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error that ends the command with `exitCode`; its message is printed without a stack. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  readonly code: string | undefined;
  constructor(exitCode: ExitCode, message: string, code?: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.code = code;
  }
}
