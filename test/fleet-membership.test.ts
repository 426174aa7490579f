import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, eventually, type TestDatabase } from './harness/database.js';
import { startRedis, type TestRedis } from './harness/redis.js';
import { type RunningPoolpilot, startPoolpilot } from './harness/server.js';

/**
 * Two instances on one Redis: `info { instances }` lists both with their pools and shares,
 * `health` reports the fleet, and says DEGRADED while Redis is unreachable.
 */

let redis: TestRedis;
let db: TestDatabase;
const servers: RunningPoolpilot[] = [];

beforeAll(async () => {
  redis = await startRedis();
  const { primaryUrl } = inject('databases');
  db = await createTestDatabase(primaryUrl, null, 'pp_fleet_members');
  for (const name of ['member-a', 'member-b']) {
    servers.push(
      await startPoolpilot({
        DATABASE_URL: db.url(primaryUrl),
        REDIS_URL: redis.url,
        INSTANCE_NAME: name,
        DB_POOL_SIZE: '4',
        DB_POOL_MIN: '1',
      }),
    );
  }
}, 60_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await redis?.stop();
  await db?.drop();
});

const INSTANCES = `{ info { instances { name alive lastSeen slot clients pools { target total active idle waiting share } } } }`;
const HEALTH = `{ health { status fleet { instance redisReachable reason shares { target budget share fair instances settled } } } }`;

interface InstancesData {
  info: {
    instances: {
      name: string;
      alive: boolean;
      slot: number | null;
      pools: { target: string; share: number }[];
    }[];
  };
}

describe('fleet membership', () => {
  it('lists every live instance with its pools and its share of the budget', async () => {
    const [a] = servers as [RunningPoolpilot];
    const instances = await eventually(async () => {
      const res = await a.gql<InstancesData>(INSTANCES);
      const list = res.data?.info.instances ?? [];
      return list.length === 2 && list.every((i) => i.pools[0]!.share > 0) ? list : null;
    }, 15_000);
    expect(instances!.map((i) => i.name)).toEqual(['member-a', 'member-b']);
    for (const instance of instances!) {
      expect(instance.alive).toBe(true);
      expect(instance.slot).toBeTypeOf('number');
      expect(instance.pools.map((p) => p.target)).toEqual(['primary']);
    }
    expect(instances![0]!.slot).not.toBe(instances![1]!.slot);
    // Together they hold at most the budget.
    expect(instances!.reduce((sum, i) => sum + i.pools[0]!.share, 0)).toBeLessThanOrEqual(4);
  });

  it('reports the fleet in health, and DEGRADED while Redis is unreachable', async () => {
    const [a, b] = servers as [RunningPoolpilot, RunningPoolpilot];
    const ok = await a.gql<{
      health: { status: string; fleet: { instance: string; redisReachable: boolean } };
    }>(HEALTH);
    expect(ok.data?.health).toMatchObject({
      status: 'OK',
      fleet: { instance: 'member-a', redisReachable: true },
    });
    const metrics = await (await fetch(`${a.url}/metrics`)).text();
    expect(metrics).toMatch(/^poolpilot_fleet_redis_up\{[^}]*\} 1$/m);
    expect(metrics).toMatch(/^poolpilot_fleet_share_connections\{target="primary"[^}]*\} [1-4]$/m);
    await redis.stop();
    try {
      await eventually(() => !a.poolpilot.fleet!.link.up, 10_000);
      const degraded = await a.gql<{
        health: { status: string; fleet: { redisReachable: boolean; reason: string | null } };
      }>(HEALTH);
      expect(degraded.data?.health.status).toBe('DEGRADED');
      expect(degraded.data?.health.fleet.redisReachable).toBe(false);
      expect(degraded.data?.health.fleet.reason).toBeTruthy();
      const body = (await (await fetch(`${b.url}/health`)).json()) as { status: string };
      expect(body.status).toBe('degraded');
      // Still serving within the last share.
      const res = await b.gql<{ executeQuery: { rows: unknown[] } }>(
        'mutation { executeQuery(sql: "SELECT 1 AS one") { rows } }',
      );
      expect(res.data?.executeQuery.rows).toEqual([{ one: 1 }]);
      // Only itself in the list while the others cannot be seen.
      const alone = await b.gql<InstancesData>(INSTANCES);
      expect(alone.data?.info.instances.map((i) => i.name)).toEqual(['member-b']);
    } finally {
      await redis.start();
    }
    await eventually(
      async () => (await a.gql<{ health: { status: string } }>(HEALTH)).data?.health.status === 'OK',
      15_000,
    );
  });
});

describe('a single instance (no REDIS_URL)', () => {
  it('lists itself alone, with DB_POOL_SIZE as its share, and no fleet in health', async () => {
    const { primaryUrl } = inject('databases');
    const single = await startPoolpilot({
      DATABASE_URL: db.url(primaryUrl),
      DB_POOL_SIZE: '3',
      DB_POOL_MIN: '0',
    });
    try {
      expect(single.poolpilot.fleet).toBeNull();
      const res = await single.gql<InstancesData>(INSTANCES);
      expect(res.data?.info.instances).toHaveLength(1);
      expect(res.data?.info.instances[0]).toMatchObject({
        alive: true,
        slot: null,
        pools: [{ target: 'primary', share: 3 }],
      });
      const health = await single.gql<{ health: { fleet: unknown } }>(HEALTH);
      expect(health.data?.health.fleet).toBeNull();
    } finally {
      await single.close();
    }
  });
});
