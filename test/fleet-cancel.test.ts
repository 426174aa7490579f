import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { slotOf } from '../src/core/fleet/index.js';
import { eventually } from './harness/database.js';
import { startRedis, type TestRedis } from './harness/redis.js';
import { type RunningWire, startWire } from './harness/wire.js';

/**
 * Two instances' wire fronts on one Redis: a client of A is cancelled by a CancelRequest sent to
 * B (as a load balancer in front of both would send it), because its process id names A.
 */

let redis: TestRedis;
const fronts: RunningWire[] = [];

beforeAll(async () => {
  redis = await startRedis();
  for (const name of ['cancel-a', 'cancel-b']) {
    fronts.push(
      await startWire(
        { REDIS_URL: redis.url, INSTANCE_NAME: name, DB_POOL_SIZE: '4', DB_POOL_MIN: '1' },
        { prefix: 'pp_fleet_cancel' },
      ),
    );
  }
  await eventually(() => fronts.every((f) => f.pp.poolpilot.fleet!.membership.slot !== null), 10_000);
}, 60_000);

afterAll(async () => {
  await Promise.all(fronts.map((f) => f.close()));
  await redis?.stop();
});

/** A CancelRequest (PostgreSQL's 16-byte packet, as libpq sends it) to `port`. */
function sendCancel(port: number, processId: number, secretKey: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      const packet = Buffer.alloc(16);
      packet.writeInt32BE(16, 0);
      packet.writeInt32BE(80877102, 4);
      packet.writeInt32BE(processId, 8);
      packet.writeInt32BE(secretKey, 12);
      socket.end(packet);
    });
    socket.once('error', reject);
    socket.once('close', () => resolve());
  });
}

async function clientOf(front: RunningWire): Promise<pg.Client & { processID: number; secretKey: number }> {
  const client = new pg.Client(front.connection) as pg.Client & { processID: number; secretKey: number };
  await client.connect();
  return client;
}

describe('cluster-wide cancel on the wire front', () => {
  it('a client of instance A is cancelled through instance B', async () => {
    const [a, b] = fronts as [RunningWire, RunningWire];
    const client = await clientOf(a);
    try {
      expect(slotOf(client.processID)).toBe(a.pp.poolpilot.fleet!.membership.slot);
      const running = client.query('SELECT pg_sleep(30)').then(
        () => null,
        (error: { code?: string }) => error,
      );
      // Once the statement runs on the server.
      await eventually(() => a.pp.poolpilot.clients.summary().active === 1, 10_000);
      await new Promise((r) => setTimeout(r, 100));
      const forwarded = b.pp.poolpilot.fleet!.cancels.forwarded;
      await sendCancel(b.port, client.processID, client.secretKey);
      const error = await running;
      expect(error?.code).toBe('57014');
      expect(b.pp.poolpilot.fleet!.cancels.forwarded).toBe(forwarded + 1);
      // The client is still usable afterwards.
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await client.end();
    }
  });

  it('a forwarded cancel with the wrong secret cancels nothing', async () => {
    const [a, b] = fronts as [RunningWire, RunningWire];
    const client = await clientOf(a);
    try {
      const running = client.query('SELECT pg_sleep(1.5), 1 AS done');
      await eventually(() => a.pp.poolpilot.clients.summary().active === 1, 10_000);
      const received = a.pp.poolpilot.fleet!.cancels.received;
      await sendCancel(b.port, client.processID, client.secretKey ^ 1);
      await eventually(() => a.pp.poolpilot.fleet!.cancels.received === received + 1, 5_000);
      expect((await running).rows).toEqual([{ pg_sleep: '', done: 1 }]);
    } finally {
      await client.end();
    }
  });
});
