import type { Command } from 'commander';
import pg from 'pg';
import { ConfigError, type DatabaseConnection, loadConfig, maskUrl, parseUrl } from '../../config/index.js';
import { type DemoTable, seedDemoData } from '../../embedded/demo-data.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { action, emit, type GlobalOptions, table } from '../output.js';

/**
 * `poolpilot demo`: creates the README's demo tables (users, orders, accounts) in a database of
 * yours, so its examples run there too. The embedded database gets them on its first start; this
 * is for a configured one, and talks to PostgreSQL directly, not to a poolpilot server.
 */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'create and fill the demo tables users, orders, accounts in the configured database (DATABASE_URL or DB_*); existing tables are left alone',
    )
    .option(
      '--database-url <url>',
      'the database to seed (default: DATABASE_URL, or DB_HOST, DB_PORT, DB_NAME, ...)',
    )
    .action(
      action(async (options: { databaseUrl?: string }, command: Command) => {
        const global = command.optsWithGlobals<GlobalOptions>();
        const target = databaseOf(options.databaseUrl);
        const client = new pg.Client({
          connectionString: target.connectionString,
          connectionTimeoutMillis: 10_000,
        });
        const where = maskUrl(target.connectionString);
        try {
          await client.connect();
        } catch (error) {
          throw new CliError(ExitCode.Unreachable, `cannot connect to ${where}: ${(error as Error).message}`);
        }
        let tables: DemoTable[];
        try {
          tables = await seedDemoData(client);
        } catch (error) {
          throw new CliError(
            ExitCode.Failed,
            `seeding ${where} failed, nothing was changed: ${(error as Error).message}`,
          );
        } finally {
          await client.end().catch(() => undefined);
        }
        emit(global, { database: target.endpoint, tables }, () => render(where, tables));
        return ExitCode.Ok;
      }),
    );
}

function databaseOf(url: string | undefined): DatabaseConnection {
  if (url !== undefined) {
    const parsed = parseUrl(url);
    if (!parsed)
      throw new CliError(
        ExitCode.Usage,
        `--database-url ${JSON.stringify(maskUrl(url))} is not accepted: expected postgres://user:password@host:port/database`,
      );
    return parsed;
  }
  let primary: DatabaseConnection | null;
  try {
    primary = loadConfig(process.env).primary;
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(ExitCode.Usage, error.message);
    throw error;
  }
  if (!primary) {
    throw new CliError(
      ExitCode.Usage,
      'no database configured: set DATABASE_URL (or DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD) or pass --database-url. ' +
        'The embedded database of `npm start` gets the demo tables on its first start already.',
    );
  }
  return primary;
}

function render(where: string, tables: DemoTable[]): string {
  const rows = tables.map((t) => [t.name, t.rows, t.created ? 'created' : 'already there, left alone']);
  return `demo tables in ${where}\n${table(['table', 'rows', ''], rows)}`;
}
