import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { createTestDatabase, eventually, type TestDatabase } from './harness/database.js';
import { type RunningPoolpilot, startPoolpilot } from './harness/server.js';

const { primaryUrl } = inject('databases');

function once(client: ReturnType<typeof createClient>, query: string) {
  return new Promise<any>((resolve) => {
    let value: unknown;
    client.subscribe(
      { query },
      { next: (v) => (value = v), error: (e) => resolve({ errors: e }), complete: () => resolve(value) },
    );
  });
}

describe('WebSocket operations that fail or go away', () => {
  let db: TestDatabase;
  let pp: RunningPoolpilot;

  beforeAll(async () => {
    db = await createTestDatabase(primaryUrl);
    pp = await startPoolpilot({ DATABASE_URL: db.url(primaryUrl), DB_POOL_MIN: '1' });
  });
  afterAll(async () => {
    await pp?.close();
    await db?.drop();
  });

  it('answers a syntax error with BAD_USER_INPUT and keeps the socket for the next operation', async () => {
    let closed = false;
    const client = createClient({
      url: pp.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      on: { closed: () => (closed = true) },
    });
    try {
      const bad = await once(client, '{ health { status ');
      expect(bad.errors[0].extensions.code).toBe('BAD_USER_INPUT');
      const good = await once(client, '{ health { status } }');
      expect(good.data.health.status).toBe('OK');
      expect(closed).toBe(false);
    } finally {
      await client.dispose();
    }
  });

  it('cancels the statement of a client whose socket closes', async () => {
    const client = createClient({ url: pp.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false });
    const tag = `ws-gone-${Date.now()}`;
    client.subscribe(
      { query: `mutation { executeQuery(sql: "SELECT pg_sleep(20) /* ${tag} */") { rowCount } }` },
      { next: () => undefined, error: () => undefined, complete: () => undefined },
    );
    const running = `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%${tag}%' AND state = 'active' AND pid <> pg_backend_pid()`;
    await eventually(async () => (await pp.poolpilot.cluster.primary.pool.query(running)).rows[0]!.n === 1);
    await client.dispose();
    await eventually(
      async () => (await pp.poolpilot.cluster.primary.pool.query(running)).rows[0]!.n === 0,
      5_000,
    );
  });
});
