import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, inject } from 'vitest';
import { type Config, loadConfig } from '../../src/config/index.js';
import { Poolpilot, silentLogger } from '../../src/core/index.js';
import { type App, createApp } from '../../src/server/app.js';
import { createTestDatabase, type TestDatabase } from './database.js';

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
 * listening on a free loopback port. Always `close()` it (afterAll/onTestFinished).
 */
export async function startPoolpilot(env: Record<string, string | undefined>): Promise<RunningPoolpilot> {
  const config = loadConfig({ HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env, PORT: '0' });
  if (!config.primary) throw new Error('startPoolpilot needs DATABASE_URL');
  const poolpilot = new Poolpilot({ config, primary: config.primary, embedded: false, log: silentLogger });
  const app = createApp(poolpilot, silentLogger);
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
