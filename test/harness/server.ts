import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, inject } from 'vitest';
import { type Config, coreSettings, databaseTargets, loadConfig } from '../../src/config/index.js';
import { Poolpilot, silentLogger } from '../../src/core/index.js';
import { type App, createApp } from '../../src/server/app.js';
import { createTestDatabase, DATA_ROLE, type TestDatabase } from './database.js';

export interface RunningPoolpilot {
  poolpilot: Poolpilot;
  app: App;
  config: Readonly<Config>;
  url: string;
  wsUrl: string;
  /** POST /graphql; returns the parsed body and the HTTP status. */
  gql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    token?: string,
  ): Promise<{
    status: number;
    data?: T;
    errors?: { message: string; extensions?: Record<string, unknown> }[];
  }>;
  close(): Promise<void>;
}

export interface RunningCore {
  poolpilot: Poolpilot;
  config: Readonly<Config>;
  close(): Promise<void>;
}

/**
 * The core alone, configured from `env` as `npm start` would configure it (DATABASE_URL
 * required) and started, with no HTTP server: for tests that never send GraphQL. Always
 * `close()` it (afterAll/onTestFinished), or let `useTestCore` do so.
 */
export async function startCore(env: Record<string, string | undefined>): Promise<RunningCore> {
  const config = loadConfig({
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    ADMIN_DATABASE_URL: env.DATABASE_URL ? superuserFor(env.DATABASE_URL) : undefined,
    ...env,
    PORT: '0',
  });
  const targets = databaseTargets(config);
  if (!targets.primary) throw new Error('startCore needs DATABASE_URL');
  const poolpilot = new Poolpilot({
    ...coreSettings(config),
    primary: targets.primary,
    replicas: targets.replicas,
    embedded: false,
    log: silentLogger,
  });
  try {
    await poolpilot.start();
  } catch (error) {
    await poolpilot.close(0);
    throw error;
  }
  return { poolpilot, config, close: () => poolpilot.close(2_000) };
}

/**
 * A poolpilot configured from `env` exactly as `npm start` would be (DATABASE_URL required),
 * listening on a free loopback port. Always `close()` it (afterAll/onTestFinished). When
 * DATABASE_URL connects as the test data role and no ADMIN_DATABASE_URL is given, the control
 * plane gets the superuser on the same database, as the embedded default does.
 */
export async function startPoolpilot(env: Record<string, string | undefined>): Promise<RunningPoolpilot> {
  const { poolpilot, config } = await startCore(env);
  const app = createApp(poolpilot, config, silentLogger);
  try {
    const address: AddressInfo = await app.listen(0, '127.0.0.1');
    const url = `http://127.0.0.1:${address.port}`;
    return {
      poolpilot,
      app,
      config,
      url,
      wsUrl: `ws://127.0.0.1:${address.port}/graphql`,
      gql: async (query, variables, token) => {
        const res = await fetch(`${url}/graphql`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/graphql-response+json, application/json',
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
          body: JSON.stringify({ query, variables }),
        });
        return { status: res.status, ...((await res.json()) as object) };
      },
      close: async () => {
        await app.close();
        await poolpilot.close(2_000);
      },
    };
  } catch (error) {
    await app.close().catch(() => undefined);
    await poolpilot.close(0);
    throw error;
  }
}

/** `url` (as the data role) with the shared servers' superuser credentials; undefined for other URLs. */
function superuserFor(url: string): string | undefined {
  const u = new URL(url);
  if (decodeURIComponent(u.username) !== DATA_ROLE) return undefined;
  const superuser = new URL(inject('databases').primaryUrl);
  u.username = superuser.username;
  u.password = superuser.password;
  return u.toString();
}

export interface TestDatabaseOptions {
  /** The same database on the streaming replica too (DB_REPLICA_URLS), when the run has one. */
  replica?: boolean;
  /** Database name prefix (what pg_stat_activity shows as datname). */
  prefix?: string;
  /**
   * Runs once the database exists and before poolpilot starts: tables, data, extensions,
   * statistics that poolpilot must find at start-up.
   */
  seed?: (database: SeededDatabase) => Promise<void>;
}

export interface SeededDatabase {
  db: TestDatabase;
  /** The test database on the primary. */
  url: string;
  /** The test database on the replica, when asked for and the run has one. */
  replicaUrl: string | null;
}

export interface TestServer {
  /** Set once the describe block's beforeAll has run. */
  pp: RunningPoolpilot;
  db: TestDatabase;
  /** The test database on the primary. */
  url: string;
}

export interface TestCore {
  /** Set once the describe block's beforeAll has run. */
  poolpilot: Poolpilot;
  config: Readonly<Config>;
  db: TestDatabase;
  /** The test database on the primary. */
  url: string;
}

/**
 * A fresh database on the shared servers, seeded, then whatever `start` starts on it: in
 * beforeAll, stopped and the database dropped in afterAll, also when a test fails.
 */
function useSeededDatabase<T extends { close(): Promise<void> }>(
  env: Record<string, string | undefined>,
  options: TestDatabaseOptions,
  start: (env: Record<string, string | undefined>) => Promise<T>,
): { running?: T; db: TestDatabase; url: string } {
  const { primaryUrl, replicaUrl } = inject('databases');
  const withReplica = options.replica === true && replicaUrl !== null;
  const state = {} as { running?: T; db: TestDatabase; url: string };
  beforeAll(async () => {
    state.db = await createTestDatabase(primaryUrl, withReplica ? replicaUrl : null, options.prefix);
    state.url = state.db.url(primaryUrl);
    const replica = withReplica ? state.db.url(replicaUrl!) : null;
    await options.seed?.({ db: state.db, url: state.url, replicaUrl: replica });
    state.running = await start({ DATABASE_URL: state.url, DB_REPLICA_URLS: replica ?? undefined, ...env });
  });
  afterAll(async () => {
    await state.running?.close();
    await state.db?.drop();
  });
  return state;
}

/**
 * The usual setup of a describe block: a fresh database on the shared servers (seeded by
 * `options.seed`) and a poolpilot serving HTTP on it (and, with `replica`, the same database on
 * the streaming replica), started in beforeAll and stopped, database dropped, in afterAll.
 */
export function useTestServer(
  env: Record<string, string | undefined> = {},
  options: TestDatabaseOptions = {},
): TestServer {
  const state = useSeededDatabase(env, options, startPoolpilot);
  return {
    get pp() {
      return state.running!;
    },
    get db() {
      return state.db;
    },
    get url() {
      return state.url;
    },
  };
}

/** As `useTestServer`, for tests that never send GraphQL: the core without an HTTP server. */
export function useTestCore(
  env: Record<string, string | undefined> = {},
  options: TestDatabaseOptions = {},
): TestCore {
  const state = useSeededDatabase(env, options, startCore);
  return {
    get poolpilot() {
      return state.running!.poolpilot;
    },
    get config() {
      return state.running!.config;
    },
    get db() {
      return state.db;
    },
    get url() {
      return state.url;
    },
  };
}
