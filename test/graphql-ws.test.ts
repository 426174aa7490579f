import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { createTestDatabase, type TestDatabase } from './harness/database.js';
import { type RunningPoolpilot, startPoolpilot } from './harness/server.js';

const { primaryUrl } = inject('databases');

describe('GraphQL over WebSocket (graphql-transport-ws)', () => {
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

  it('answers a query on the same port and path as HTTP', async () => {
    const client = createClient({ url: pp.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
    try {
      const result = await new Promise<any>((resolve, reject) => {
        let value: unknown;
        client.subscribe(
          { query: '{ health { status } poolStats { max targets { name role } } }' },
          { next: (v) => (value = v), error: reject, complete: () => resolve(value) },
        );
      });
      expect(result.errors).toBeUndefined();
      expect(result.data.health.status).toBe('OK');
      expect(result.data.poolStats.targets[0]).toEqual({ name: 'primary', role: 'PRIMARY' });
    } finally {
      await client.dispose();
    }
  });
});
