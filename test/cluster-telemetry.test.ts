import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../src/embedded/free-port.js';
import { spawnService, stopService, waitHealthy } from '../support/service-process.js';
import { createTestDatabase, eventually, type TestDatabase } from './harness/database.js';
import { startRedis, type TestRedis } from './harness/redis.js';
import { type Collected, collect, wsClient } from './harness/subscriptions.js';

const { primaryUrl } = inject('databases');
const INTERVAL_MS = 500;
/** DB_POOL_SIZE of both instances: with REDIS_URL, the fleet's budget per target, shared by them. */
const BUDGET = 6;

interface Instance {
  name: string;
  child: ChildProcess;
  url: string;
  wsUrl: string;
}

type PoolData = {
  poolUtilization: {
    seq: number;
    at: string;
    total: { max: number };
    instances: { name: string; total: { max: number } }[];
  };
};

const POOL = `subscription { poolUtilization(intervalMs: ${INTERVAL_MS}) {
  seq at total { max } instances { name total { max } }
} }`;

async function gql<T>(url: string, query: string): Promise<T> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  const body = (await res.json()) as { data: T; errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

describe('cluster-wide telemetry over Redis', () => {
  let redis: TestRedis;
  let db: TestDatabase;
  const instances: Instance[] = [];

  async function startInstance(name: string, poolSize: number): Promise<Instance> {
    const port = await freePort();
    const child = spawnService(
      {
        DATABASE_URL: db.url(primaryUrl),
        DB_REPLICA_URLS: '',
        DB_POOL_MIN: '1',
        DB_POOL_SIZE: String(poolSize),
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        REDIS_URL: redis.url,
        INSTANCE_NAME: name,
      },
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const instance = {
      name,
      child,
      url: `http://127.0.0.1:${port}`,
      wsUrl: `ws://127.0.0.1:${port}/graphql`,
    };
    instances.push(instance);
    await waitHealthy(child, instance.url, 60_000);
    return instance;
  }

  beforeAll(async () => {
    redis = await startRedis();
    db = await createTestDatabase(primaryUrl);
    await Promise.all([startInstance('pp-a', BUDGET), startInstance('pp-b', BUDGET)]);
  }, 90_000);

  afterAll(async () => {
    for (const { child } of instances) {
      if (child.exitCode === null && child.signalCode === null) await stopService(child);
    }
    await redis?.stop();
    await db?.drop();
  }, 60_000);

  it('samples once for the cluster, with every instance’s pools, and survives kill -9 of the leader and a Redis outage', async () => {
    const [a, b] = instances as [Instance, Instance];
    const clients = [wsClient(a.wsUrl), wsClient(b.wsUrl)];
    const subs: Collected<PoolData>[] = clients.map((c) => collect<PoolData>(c, POOL));
    try {
      // A subscriber on A sees B's pools, and the total covers both: each instance's max is its
      // share of the fleet's budget (DB_POOL_SIZE with REDIS_URL), once Redis has granted one.
      const both = await eventually(
        () =>
          subs[0]!.results.find((r) => {
            const { instances } = r.data!.poolUtilization;
            return instances.length === 2 && instances.every((i) => i.total.max >= 1);
          })?.data?.poolUtilization,
        20_000,
      );
      expect(both.instances.map((i) => i.name)).toEqual(['pp-a', 'pp-b']);
      expect(both.total.max).toBe(both.instances.reduce((sum, i) => sum + i.total.max, 0));
      expect(both.total.max).toBeLessThanOrEqual(BUDGET);

      // The same as a query, for the cluster or for the instance asked.
      type Snapshot = { poolSnapshot: { total: { max: number }; instances: { name: string }[] } };
      const snapshot = '{ poolSnapshot(scope: SCOPE) { total { max } instances { name } } }';
      const cluster = await eventually(async () => {
        const { poolSnapshot } = await gql<Snapshot>(b.url, snapshot.replace('SCOPE', 'CLUSTER'));
        return poolSnapshot.instances.length === 2 ? poolSnapshot : null;
      });
      expect(cluster.total.max).toBeGreaterThanOrEqual(2);
      expect(cluster.total.max).toBeLessThanOrEqual(BUDGET);
      const alone = (await gql<Snapshot>(b.url, snapshot.replace('SCOPE', 'INSTANCE'))).poolSnapshot;
      expect(alone.instances).toEqual([{ name: 'pp-b' }]);
      expect(alone.total.max).toBeGreaterThanOrEqual(1);
      expect(alone.total.max).toBeLessThan(cluster.total.max);

      // One leader for the stream, the same on both instances; the followers take no samples of their own.
      type Samplers = { telemetrySamplers: { subscription: string; leader: string | null }[] };
      const leaderOn = async (i: Instance) =>
        (await gql<Samplers>(i.url, '{ telemetrySamplers { subscription leader } }')).telemetrySamplers.find(
          (s) => s.subscription === 'POOL_UTILIZATION',
        )?.leader ?? null;
      const leader = await eventually(async () => {
        const [onA, onB] = [await leaderOn(a), await leaderOn(b)];
        return onA !== null && onA === onB ? onA : null;
      });
      expect(['pp-a', 'pp-b']).toContain(leader);
      const probe = new Redis(redis.url);
      try {
        expect(await probe.get(`poolpilot:leader:poolUtilization@${INTERVAL_MS}`)).toBe(leader);
      } finally {
        probe.disconnect();
      }

      // Both subscribers get the same samples: the same seq carries the same instant on A and on B.
      await Promise.all(subs.map((s) => s.waitFor(s.results.length + 3)));
      const atBySeq = new Map(
        subs[0]!.results.map((r) => [r.data!.poolUtilization.seq, r.data!.poolUtilization.at]),
      );
      const shared = subs[1]!.results.filter((r) => atBySeq.has(r.data!.poolUtilization.seq));
      expect(shared.length).toBeGreaterThanOrEqual(2);
      for (const r of shared)
        expect(r.data!.poolUtilization.at).toBe(atBySeq.get(r.data!.poolUtilization.seq));

      // kill -9 the leader: the survivor takes the lease over and its subscriber keeps getting samples.
      const [dead, survivor] = leader === 'pp-a' ? [a, b] : [b, a];
      const watching = subs[instances.indexOf(survivor)]!;
      const killedAt = Date.now();
      dead.child.kill('SIGKILL');
      await new Promise((r) => dead.child.once('exit', r));
      const received = watching.results.length;
      await watching.waitFor(received + 3, 20_000);
      await eventually(async () => (await leaderOn(survivor)) === survivor.name, 10_000);
      const after = watching.results.slice(received).map((r) => r.data!.poolUtilization);
      const firstAt = Date.parse(after[0]!.at);
      console.log(
        `leader ${dead.name} killed; first sample on ${survivor.name} after ${firstAt - killedAt} ms (interval ${INTERVAL_MS} ms)`,
      );
      // Its report expires: the samples soon cover the survivor alone.
      await eventually(
        () =>
          watching.results
            .at(-1)!
            .data!.poolUtilization.instances.map((i) => i.name)
            .join() === survivor.name,
        10_000,
      );

      // Redis gone: the survivor samples alone for its own subscribers, and says so nowhere else.
      await redis.stop();
      const beforeOutage = watching.results.length;
      await watching.waitFor(beforeOutage + 3, 20_000);
      const outage = watching.results.at(-1)!.data!.poolUtilization;
      expect(outage.instances.map((i) => i.name)).toEqual([survivor.name]);
    } finally {
      for (const s of subs) s.stop();
      await Promise.all(clients.map((c) => c.dispose()));
    }
  }, 90_000);
});
