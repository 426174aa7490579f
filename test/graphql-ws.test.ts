import { createClient } from 'graphql-ws';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { useTestServer } from './harness/server.js';

describe('GraphQL over WebSocket (graphql-transport-ws)', () => {
  const server = useTestServer({ DB_POOL_MIN: '1' });

  it('answers a query on the same port and path as HTTP', async () => {
    const client = createClient({ url: server.pp.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
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
