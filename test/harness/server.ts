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

/**
 * A poolpilot configured from `env` exactly as `npm start` would be (DATABASE_URL required),
 * listening on a free loopback port. Always `close()` it (afterAll/onTestFinished). When
 * DATABASE_URL connects as the test data role and no ADMIN_DATABASE_URL is given, the control
 * plane gets the superuser on the same database, as the embedded default does.
 */
export async function startPoolpilot(env: Record<string, string | undefined>): Promise<RunningPoolpilot> {
  const config = loadConfig({
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    ADMIN_DATABASE_URL: env.DATABASE_URL ? superuserFor(env.DATABASE_URL) : undefined,
    ...env,
    PORT: '0',
  });
  const targets = databaseTargets(config);
  if (!targets.primary) throw new Error('startPoolpilot needs DATABASE_URL');
  const poolpilot = new Poolpilot({
    ...coreSettings(config),
    primary: targets.primary,
    replicas: targets.replicas,
    embedded: false,
    log: silentLogger,
  });
  const app = createApp(poolpilot, config, silentLogger);
  try {
    await poolpilot.start();
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

export interface TestServer {
  /** Set once the describe block's beforeAll has run. */
  pp: RunningPoolpilot;
  db: TestDatabase;
}

/**
 * The usual setup of a describe block: a fresh database on the shared servers and a poolpilot
 * pooling it (and, with `replica`, the same database on the streaming replica), started in
 * beforeAll and stopped, database dropped, in afterAll, also when a test fails.
 */
export function useTestServer(
  env: Record<string, string | undefined> = {},
  options: { replica?: boolean; prefix?: string } = {},
): TestServer {
  const { primaryUrl, replicaUrl } = inject('databases');
  const withReplica = options.replica === true && replicaUrl !== null;
  const server = {} as TestServer;
  beforeAll(async () => {
    server.db = await createTestDatabase(primaryUrl, withReplica ? replicaUrl : null, options.prefix);
    server.pp = await startPoolpilot({
      DATABASE_URL: server.db.url(primaryUrl),
      DB_REPLICA_URLS: withReplica ? server.db.url(replicaUrl!) : undefined,
      ...env,
    });
  });
  afterAll(async () => {
    await server.pp?.close();
    await server.db?.drop();
  });
  return server;
}
