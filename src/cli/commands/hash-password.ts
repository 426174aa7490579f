import type { Command } from 'commander';
import { createVerifier, DEFAULT_ITERATIONS, formatVerifier } from '../../wire/scram-verifier.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { action } from '../output.js';

/** Longest password read: PostgreSQL itself accepts up to 1000 bytes in a password packet. */
const MAX_PASSWORD_BYTES = 1000;

/**
 * `poolpilot hash-password`: prints a SCRAM-SHA-256 verifier for WIRE_USERS, in the exact form
 * PostgreSQL keeps in pg_authid. The password comes from standard input (first line) or, on a
 * terminal, from a prompt that does not echo; it is never an argument, so it stays out of shell
 * history and the process list.
 */
export function registerHashPassword(program: Command): void {
  program
    .command('hash-password')
    .description('print a SCRAM-SHA-256 verifier for WIRE_USERS (password read from stdin or a prompt)')
    .option('--user <name>', 'print user:verifier, ready for WIRE_USERS')
    .option(
      '--iterations <n>',
      `PBKDF2 iterations (default ${DEFAULT_ITERATIONS}, as PostgreSQL's scram_iterations)`,
      (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1 || n > 10_000_000) {
          throw new CliError(
            ExitCode.Usage,
            `--iterations ${JSON.stringify(v)}: expected a whole number from 1 to 10000000`,
          );
        }
        return n;
      },
      DEFAULT_ITERATIONS,
    )
    .action(
      action(async (options: { user?: string; iterations: number }) => {
        const password = process.stdin.isTTY ? await prompt() : await readStdinLine();
        if (!password) throw new CliError(ExitCode.Usage, 'empty password');
        if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) {
          throw new CliError(ExitCode.Usage, `password longer than ${MAX_PASSWORD_BYTES} bytes`);
        }
        if (options.user !== undefined && (!options.user || /[,:\s]/.test(options.user))) {
          throw new CliError(ExitCode.Usage, '--user: a user name without commas, colons or spaces');
        }
        const verifier = formatVerifier(createVerifier(password, { iterations: options.iterations }));
        process.stdout.write(`${options.user ? `${options.user}:` : ''}${verifier}\n`);
        return ExitCode.Ok;
      }),
    );
}

async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.length;
    if (size > MAX_PASSWORD_BYTES * 4) break;
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text.split(/\r?\n/)[0] ?? '';
}

/** Asks twice on the terminal without echoing. */
async function prompt(): Promise<string> {
  const first = await ask('Password: ');
  const second = await ask('Again: ');
  if (first !== second) throw new CliError(ExitCode.Usage, 'the passwords do not match');
  return first;
}

function ask(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    let answer = '';
    const onData = (data: Buffer) => {
      for (const ch of data.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          done();
          resolve(answer);
          return;
        }
        if (ch === '\u0003') {
          done();
          reject(new CliError(ExitCode.Usage, 'cancelled'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') answer = [...answer].slice(0, -1).join('');
        else answer += ch;
      }
    };
    const done = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}
