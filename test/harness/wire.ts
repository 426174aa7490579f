import { execFile } from 'node:child_process';
import { afterAll, beforeAll, inject } from 'vitest';
import { silentLogger } from '../../src/core/index.js';
import { createVerifier, formatVerifier } from '../../src/wire/scram-verifier.js';
import { WireSurface } from '../../src/wire/wire-surface.js';
import { createTestDatabase, eventually, run, type TestDatabase } from './database.js';
import { type RunningCore, startCore } from './server.js';

/** The one wire user of these tests (WIRE_USERS holds its SCRAM verifier). */
export const WIRE_USER = 'app';
export const WIRE_PASSWORD = 'wire test password';

export interface RunningWire {
  pp: RunningCore;
  surface: WireSurface;
  db: TestDatabase;
  /** The front's port on 127.0.0.1. */
  port: number;
  /** The pool's database: the only one the front accepts besides the admin console. */
  database: string;
  /** Where the front is, for drivers: `{ host, port, user, password, database }`. */
  connection: { host: string; port: number; user: string; password: string; database: string };
  /** A postgres:// URL of the front. */
  url: string;
  /** The environment a libpq child process (psql, pgbench) needs to reach the front. */
  libpqEnv: Record<string, string>;
  /** The same for the primary itself, bypassing poolpilot (for comparisons). */
  directEnv: Record<string, string>;
  close(): Promise<void>;
}

export interface WireOptions {
  /** The test database on the replica too, as DB_REPLICA_URLS; waits until the replica is up. */
  replica?: boolean;
  prefix?: string;
  /** SQL run directly on the primary before poolpilot starts (replicated before it starts, with `replica`). */
  setup?: string;
}

/**
 * A fresh test database, a poolpilot core pooling it (configured from `env` as `npm start` would be)
 * and the wire front beside it on a free loopback port, with SCRAM user WIRE_USER. Everything
 * started is stopped again if a later step fails.
 */
export async function startWire(
  env: Record<string, string | undefined> = {},
  options: WireOptions = {},
): Promise<RunningWire> {
  const { primaryUrl, replicaUrl } = inject('databases');
  if (options.replica && !replicaUrl) throw new Error('this test needs a replica');
  const withReplica = options.replica === true;
  const db = await createTestDatabase(
    primaryUrl,
    withReplica ? replicaUrl : null,
    options.prefix ?? 'pp_wire',
  );
  let pp: RunningCore | null = null;
  let surface: WireSurface | null = null;
  try {
    if (options.setup) {
      await run(db.url(primaryUrl), options.setup);
      // The setup is on the replica before poolpilot starts, whatever its health interval.
      if (withReplica) {
        const { rows } = await run(db.url(primaryUrl), 'SELECT pg_current_wal_insert_lsn()::text AS lsn');
        const lsn = rows[0].lsn as string;
        await eventually(async () => {
          const replayed = await run(
            db.url(replicaUrl!),
            'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok',
            [lsn],
          );
          return replayed.rows[0].ok === true;
        }, 20_000);
      }
    }
    pp = await startCore({
      DATABASE_URL: db.url(primaryUrl),
      DB_REPLICA_URLS: withReplica ? db.url(replicaUrl!) : undefined,
      HEALTH_CHECK_INTERVAL_MS: withReplica ? '200' : undefined,
      WIRE_USERS: `${WIRE_USER}:${formatVerifier(createVerifier(WIRE_PASSWORD))}`,
      ...env,
    });
    const running = pp;
    if (withReplica) await eventually(() => running.poolpilot.cluster.replicas.every((r) => r.isUp), 20_000);
    // Port 0: a free port, whatever WIRE_PORT says.
    surface = new WireSurface(pp.poolpilot, { ...pp.config.wire, port: 0, host: '127.0.0.1' }, silentLogger);
    await surface.listen();
    const port = surface.listener.address!.port;
    const connection = {
      host: '127.0.0.1',
      port,
      user: WIRE_USER,
      password: WIRE_PASSWORD,
      database: db.name,
    };
    const front = surface;
    return {
      pp,
      surface,
      db,
      port,
      database: db.name,
      connection,
      url: `postgres://${WIRE_USER}:${encodeURIComponent(WIRE_PASSWORD)}@127.0.0.1:${port}/${db.name}`,
      libpqEnv: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        PGHOST: '127.0.0.1',
        PGPORT: String(port),
        PGUSER: WIRE_USER,
        PGPASSWORD: WIRE_PASSWORD,
        PGDATABASE: db.name,
        PGSSLMODE: 'disable',
        PGCONNECT_TIMEOUT: '10',
      },
      directEnv: libpqEnvFor(db.url(primaryUrl)),
      close: async () => {
        await front.close().catch(() => undefined);
        await running.close().catch(() => undefined);
        await db.drop();
      },
    };
  } catch (error) {
    await surface?.close().catch(() => undefined);
    await pp?.close().catch(() => undefined);
    await db.drop();
    throw error;
  }
}

/**
 * The usual setup of a describe block: `startWire` in beforeAll, everything stopped and the
 * database dropped in afterAll, also when a test fails. Read `.front` inside tests.
 */
export function useWire(
  env: Record<string, string | undefined> = {},
  options: WireOptions = {},
): { front: RunningWire } {
  const holder = {} as { front: RunningWire };
  beforeAll(async () => {
    holder.front = await startWire(env, options);
  });
  afterAll(async () => {
    await holder.front?.close();
  });
  return holder;
}

export interface ProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a libpq client (psql, pgbench) to completion; never rejects, the exit code says how it went. */
export function runClient(
  command: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<ProcessResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** `psql -X -At -v ON_ERROR_STOP=1` with the given commands, output as text lines. */
export async function psql(env: Record<string, string>, ...commands: string[]): Promise<ProcessResult> {
  return runClient(
    'psql',
    ['-X', '-At', '-v', 'ON_ERROR_STOP=1', ...commands.flatMap((c) => ['-c', c])],
    env,
  );
}

/** libpq's environment for a postgres:// URL. */
export function libpqEnvFor(url: string): Record<string, string> {
  const u = new URL(url);
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    PGHOST: u.hostname,
    PGPORT: u.port || '5432',
    PGUSER: decodeURIComponent(u.username),
    PGPASSWORD: decodeURIComponent(u.password),
    PGDATABASE: u.pathname.slice(1),
    PGSSLMODE: 'disable',
    PGCONNECT_TIMEOUT: '10',
  };
}
