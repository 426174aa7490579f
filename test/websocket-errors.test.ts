import { createClient } from 'graphql-ws';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { eventually } from './harness/database.js';
import { useTestServer } from './harness/server.js';

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
  const server = useTestServer({ DB_POOL_MIN: '1' });

  it('answers a syntax error with BAD_USER_INPUT and keeps the socket for the next operation', async () => {
    let closed = false;
    const client = createClient({
      url: server.pp.wsUrl,
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
    const client = createClient({
      url: server.pp.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: false,
    });
    const tag = `ws-gone-${Date.now()}`;
    client.subscribe(
      { query: `mutation { executeQuery(sql: "SELECT pg_sleep(20) /* ${tag} */") { rowCount } }` },
      { next: () => undefined, error: () => undefined, complete: () => undefined },
    );
    const running = `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%${tag}%' AND state = 'active' AND pid <> pg_backend_pid()`;
    await eventually(
      async () => (await server.pp.poolpilot.cluster.primary.pool.query(running)).rows[0]!.n === 1,
    );
    await client.dispose();
    await eventually(
      async () => (await server.pp.poolpilot.cluster.primary.pool.query(running)).rows[0]!.n === 0,
      5_000,
    );
  });
});
