import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../core/logger.js';
import type { TargetEndpoint } from '../core/pool/index.js';
import { seedOnFirstStart } from './demo-data.js';
import { freePort } from './free-port.js';
import { PostgresServer, resolveDataRoot, serverUser } from './postgres-server.js';

export interface EmbeddedDatabase {
  connectionString: string;
  endpoint: TargetEndpoint;
  dataRoot: string;
  /** True when the requested data folder was out of the server user's reach and a temp folder was used. */
  fellBack: boolean;
  server: PostgresServer;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  log: Logger;
}

/**
 * The zero-configuration database: PostgreSQL 16 with pg_stat_statements, data kept under
 * `dataDir` across restarts, its superuser password generated once and stored beside the data.
 */
export async function startEmbeddedDatabase(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const user = serverUser();
  const { root, fellBack } = resolveDataRoot(options.dataDir, user);
  if (fellBack) {
    options.log.warn(
      { requested: path.resolve(options.dataDir), using: root, runAs: user?.name },
      `the PostgreSQL OS user cannot reach ${path.resolve(options.dataDir)}; keeping the embedded data in ${root}`,
    );
  }
  await mkdir(root, { recursive: true, mode: 0o700 });
  // The server's OS user must be able to enter the folder that holds its data directory.
  if (user) await chown(root, user.uid, user.gid);
  const password = await loadOrCreatePassword(path.join(root, 'superuser-password'));
  const port = await freePort(options.port);
  if (port !== options.port)
    options.log.info({ wanted: options.port, port }, 'embedded PostgreSQL port taken; using another');
  const pgLog = options.log.child({ component: 'postgres' });
  const server = new PostgresServer({
    dataDir: path.join(root, 'pg16'),
    port,
    user,
    settings: {
      shared_preload_libraries: 'pg_stat_statements',
      'pg_stat_statements.track': 'top',
      track_io_timing: 'on',
    },
    onLog: (line) => pgLog.debug(line),
  });
  const created = !server.initialised;
  if (created) {
    options.log.info({ dataDir: server.dataDir }, 'initialising embedded PostgreSQL 16');
    await server.initialise(password);
  }
  await server.start();
  const endpoint: TargetEndpoint = { host: '127.0.0.1', port, database: 'postgres', user: 'postgres' };
  const connectionString = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  const client = new pg.Client({ connectionString });
  try {
    await client.connect();
    await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    if (created) await seedOnFirstStart(client, options.log);
  } finally {
    await client.end().catch(() => undefined);
  }
  return { connectionString, endpoint, dataRoot: root, fellBack, server, stop: () => server.stop() };
}

async function loadOrCreatePassword(file: string): Promise<string> {
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const password = randomBytes(18).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return password;
}
