import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../core/logger.js';
import type { TargetConnections, TargetEndpoint } from '../shared/settings.js';
import { seedOnFirstStart } from './demo-data.js';
import { freePort } from './free-port.js';
import { PostgresServer, resolveDataRoot, serverUser } from './postgres-server.js';

/** The application database and the role callers' statements run as (owner of that database). */
export const APP_DATABASE = 'app';
export const DATA_ROLE = 'app';

export interface EmbeddedDatabase {
  /**
   * `data`: the non-superuser owner of the application database, for callers' statements.
   * `admin`: the superuser on the same database, for poolpilot's control plane.
   */
  connections: TargetConnections;
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
  /**
   * Called once, when the application database has just been created, with a client connected to
   * it as the data role: what it creates (demo tables) belongs to that role.
   */
  onCreated?: (client: pg.Client) => Promise<void>;
}

/**
 * The zero-configuration database: PostgreSQL 16 with pg_stat_statements, data kept under
 * `dataDir` across restarts. Two roles, each with a password generated once and stored beside the
 * data (0600): the superuser `postgres` (poolpilot's control plane) and `app`, which owns the
 * application database `app` and can do nothing else (no superuser, roles or databases), for
 * every statement callers send.
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
  const dataPassword = await loadOrCreatePassword(path.join(root, `${DATA_ROLE}-password`));
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
  try {
    const url = (role: string, secret: string, database: string) =>
      `postgres://${role}:${encodeURIComponent(secret)}@127.0.0.1:${port}/${database}`;
    // Every start, not only the first: a data folder made before the roles existed gets them too.
    const created = await ensureApplicationDatabase(url('postgres', password, 'postgres'), dataPassword);
    await withClient(url('postgres', password, APP_DATABASE), (client) =>
      client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements'),
    );
    if (created) {
      options.log.info(
        { database: APP_DATABASE, role: DATA_ROLE },
        'created the application database and its role',
      );
      if (options.onCreated) await withClient(url(DATA_ROLE, dataPassword, APP_DATABASE), options.onCreated);
      // The demo tables belong to the data role, as tables callers create do.
      await withClient(url(DATA_ROLE, dataPassword, APP_DATABASE), (client) =>
        seedOnFirstStart(client, options.log),
      );
    }
    const endpoint = (role: string): TargetEndpoint => ({
      host: '127.0.0.1',
      port,
      database: APP_DATABASE,
      user: role,
    });
    return {
      connections: {
        data: { connectionString: url(DATA_ROLE, dataPassword, APP_DATABASE), endpoint: endpoint(DATA_ROLE) },
        admin: { connectionString: url('postgres', password, APP_DATABASE), endpoint: endpoint('postgres') },
      },
      dataRoot: root,
      fellBack,
      server,
      stop: () => server.stop(),
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/**
 * The data role (login only: no superuser, no roles, no databases, no replication, no RLS bypass)
 * and the application database it owns, so tables callers create are its own. Resolves true when
 * the database was created now.
 */
async function ensureApplicationDatabase(superuserUrl: string, dataPassword: string): Promise<boolean> {
  return withClient(superuserUrl, async (client) => {
    await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const role = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [DATA_ROLE]);
    const attributes = 'LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS';
    // The password is the generated one (base64url): escaped all the same.
    const secret = client.escapeLiteral(dataPassword);
    await client.query(
      `${role.rowCount ? 'ALTER' : 'CREATE'} ROLE ${DATA_ROLE} WITH ${attributes} PASSWORD ${secret}`,
    );
    const db = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [APP_DATABASE]);
    if (db.rowCount) return false;
    await client.query(`CREATE DATABASE ${APP_DATABASE} OWNER ${DATA_ROLE}`);
    return true;
  });
}

async function withClient<T>(connectionString: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function loadOrCreatePassword(file: string): Promise<string> {
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const password = randomBytes(18).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return password;
}
