import { Command, CommanderError, Option } from 'commander';
import { VERSION } from '../core/poolpilot.js';
import { registerAnalyze } from './commands/analyze.js';
import { registerDemo } from './commands/demo.js';
import { registerHashPassword } from './commands/hash-password.js';
import { registerTest } from './commands/load-test.js';
import { registerMonitor } from './commands/monitor.js';
import { registerOptimize } from './commands/optimize.js';
import { registerReport } from './commands/report.js';
import { registerStart } from './commands/start.js';
import { CliError, ExitCode } from './exit-codes.js';

/**
 * `poolpilot`: the server (`start`) and the commands that talk to a running one over its GraphQL
 * API. Exit codes are listed in `exit-codes.ts` and in `--help`.
 */
export function createProgram(): Command {
  const program = new Command('poolpilot')
    .description('PostgreSQL connection-pool balancer: run the server, or inspect and drive a running one')
    .version(VERSION)
    .addOption(
      new Option('--url <url>', 'poolpilot server').env('POOLPILOT_URL').default('http://127.0.0.1:3338'),
    )
    .addOption(new Option('--token <token>', 'API token (Authorization: Bearer)').env('POOLPILOT_TOKEN'))
    .option('--json', 'print JSON for scripts instead of text')
    .showHelpAfterError()
    .addHelpText(
      'after',
      `
Exit codes:
  ${ExitCode.Ok}  done (analyze/report: the service is ok)
  ${ExitCode.Problem}  done, but a problem was found (service degraded or down, failed statements, a failed optimization)
  ${ExitCode.Usage}  bad arguments
  ${ExitCode.Unreachable}  the server could not be reached
  ${ExitCode.Unauthorized}  missing or insufficient token
  ${ExitCode.Unsupported}  the server does not offer what the command needs
  ${ExitCode.Failed}  the server answered with an error`,
    );
  program.exitOverride();
  registerStart(program);
  registerAnalyze(program);
  registerOptimize(program);
  registerTest(program);
  registerReport(program);
  registerMonitor(program);
  registerHashPassword(program);
  registerDemo(program);
  for (const command of program.commands) command.exitOverride();
  return program;
}

export async function run(argv: string[]): Promise<void> {
  const program = createProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version end with code 0; everything else commander rejects is a usage error.
      process.exitCode = error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
      return;
    }
    if (error instanceof CliError) {
      process.stderr.write(`poolpilot: ${error.message}\n`);
      process.exitCode = error.exitCode;
      return;
    }
    throw error;
  }
}
