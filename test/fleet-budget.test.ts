import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LEASE_MS } from '../src/core/fleet/index.js';
import { freePort } from '../src/embedded/free-port.js';
import { spawnService, stopService, waitHealthy } from '../support/service-process.js';
import { createTestDatabase, DATA_ROLE, type TestDatabase } from './harness/database.js';
import { startRedis, type TestRedis } from './harness/redis.js';

/**
 * Three poolpilot processes on one Redis against the harness's primary + replica, with one
 * budget of BUDGET connections per target. Under load from all three, the data role's
 * connections in pg_stat_activity (sampled every 100 ms) never exceed it: not while sharing, not
 * after one instance is killed with SIGKILL (its share goes to the others), not while Redis is
 * away (each keeps its last share, reports degraded), not once Redis is back (they rebalance).
 * The figures go to test/artifacts/fleet-budget.{json,md}; `npm run bench:fleet` runs this file
 * and writes them to bench/results/ instead.
 */

const BUDGET = 6;
const NAMES = ['fleet-a', 'fleet-b', 'fleet-c'] as const;
/** Callers per instance, each running a 200 ms statement back to back: more than any share. */
const CALLERS = 6;

interface Instance {
  name: string;
  url: string;
  child: ChildProcess;
}

interface HealthBody {
  status: string;
  targets: { name: string; pool: { total: number; active: number; waiting: number; max: number } }[];
  fleet?: {
    redis: { up: boolean };
    shares: {
      target: string;
      share: number;
      settled: boolean;
      renewedAt: string | null;
      instances: number;
    }[];
  };
}

let redis: TestRedis;
let db: TestDatabase;
let admin: { primary: pg.Client; replica: pg.Client | null };
const instances: Instance[] = [];
const figures: Record<string, unknown> = { budget: BUDGET, leaseMs: LEASE_MS, instances: NAMES.length };

async function health(instance: Instance): Promise<HealthBody> {
  return (await (await fetch(`${instance.url}/health`)).json()) as HealthBody;
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, limitMs = 30_000) {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await probe().catch(() => null);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The data role's server connections from poolpilot on one server right now. */
async function serverConnections(client: pg.Client): Promise<number> {
  const { rows } = await client.query(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = $1 AND usename = $2 AND application_name = 'poolpilot'`,
    [db.name, DATA_ROLE],
  );
  return rows[0].n as number;
}

/** Samples both servers every 100 ms; `peak()` is the most seen on either since the last reset. */
function sampler() {
  let peak = { primary: 0, replica: 0 };
  let samples = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const primary = await serverConnections(admin.primary);
      const replica = admin.replica ? await serverConnections(admin.replica) : 0;
      peak = { primary: Math.max(peak.primary, primary), replica: Math.max(peak.replica, replica) };
      samples += 1;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    peak: () => ({ ...peak, samples }),
    reset: () => {
      peak = { primary: 0, replica: 0 };
      samples = 0;
    },
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

/** `concurrency` callers per instance, each running statements back to back until stopped. */
function load(targets: Instance[], concurrency: number) {
  let stopped = false;
  const counts = new Map<string, { ok: number; failed: number; lastError: string | null }>();
  const loops = targets.flatMap((instance) => {
    const count = { ok: 0, failed: 0, lastError: null as string | null };
    counts.set(instance.name, count);
    return Array.from({ length: concurrency }, async () => {
      while (!stopped) {
        try {
          const res = await fetch(`${instance.url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              query: 'mutation($sql: String!) { executeQuery(sql: $sql) { rowCount } }',
              variables: { sql: 'SELECT pg_sleep(0.2), 1 AS one' },
            }),
          });
          const body = (await res.json()) as { errors?: { message: string }[] };
          if (body.errors) {
            count.failed += 1;
            count.lastError = body.errors[0]!.message;
          } else count.ok += 1;
        } catch (error) {
          count.failed += 1;
          count.lastError = (error as Error).message;
          if (instance.child.exitCode !== null || instance.child.signalCode !== null) return;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    });
  });
  return {
    counts,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

const primaryShare = (body: HealthBody) => body.fleet?.shares.find((s) => s.target === 'primary');

beforeAll(async () => {
  redis = await startRedis();
  const { primaryUrl, replicaUrl } = inject('databases');
  db = await createTestDatabase(primaryUrl, replicaUrl, 'pp_fleet');
  admin = {
    primary: new pg.Client({ connectionString: db.adminUrl(primaryUrl) }),
    replica: replicaUrl ? new pg.Client({ connectionString: db.adminUrl(replicaUrl) }) : null,
  };
  await admin.primary.connect();
  await admin.replica?.connect();
  for (const name of NAMES) {
    const port = await freePort();
    const child = spawnService(
      {
        DATABASE_URL: db.url(primaryUrl),
        ADMIN_DATABASE_URL: db.adminUrl(primaryUrl),
        DB_REPLICA_URLS: replicaUrl ? db.url(replicaUrl) : undefined,
        REDIS_URL: redis.url,
        INSTANCE_NAME: name,
        DB_POOL_SIZE: String(BUDGET),
        DB_POOL_MIN: '1',
        PORT: String(port),
        HOST: '127.0.0.1',
        WIRE_PORT: '0',
        LOG_LEVEL: 'warn',
      },
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    instances.push({ name, url: `http://127.0.0.1:${port}`, child });
  }
  await Promise.all(instances.map((i) => waitHealthy(i.child, i.url, 60_000)));
}, 120_000);

afterAll(async () => {
  for (const instance of instances) {
    if (instance.child.exitCode === null && instance.child.signalCode === null) {
      await stopService(instance.child).catch(() => instance.child.kill('SIGKILL'));
    }
  }
  await admin?.primary.end().catch(() => undefined);
  await admin?.replica?.end().catch(() => undefined);
  await redis?.stop();
  await db?.drop();
  const dir = process.env.FLEET_FIGURES_DIR || 'test/artifacts';
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/fleet-budget.json`, `${JSON.stringify(figures, null, 2)}\n`);
  const lines = [
    '# Fleet connection budget (npm run bench:fleet: test/fleet-budget.test.ts)',
    '',
    `${NAMES.length} poolpilot processes, one Redis, DB_POOL_SIZE=${BUDGET} as the budget per target, lease ${LEASE_MS} ms.`,
    `Load: ${CALLERS} GraphQL callers per instance running \`SELECT pg_sleep(0.2)\` back to back. Connections counted in`,
    "pg_stat_activity (data role, application_name 'poolpilot') every 100 ms. Shared 2-core machine.",
    '',
    '| phase | peak primary connections | budget | other figures |',
    '|---|---|---|---|',
    ...Object.entries(figures)
      .filter(([, v]) => typeof v === 'object' && v !== null && 'peakPrimary' in (v as object))
      .map(([phase, v]) => {
        const { peakPrimary, ...rest } = v as { peakPrimary: number };
        return `| ${phase} | ${peakPrimary} | ${BUDGET} | ${Object.entries(rest)
          .map(([k, x]) => `${k}: ${typeof x === 'object' ? JSON.stringify(x) : x}`)
          .join(', ')} |`;
      }),
    '',
  ];
  writeFileSync(`${dir}/fleet-budget.md`, lines.join('\n'));
  console.log(lines.join('\n'));
}, 60_000);

describe('one connection budget across three instances', () => {
  it('never exceeds the budget while all three share it under load', async () => {
    const samples = sampler();
    const traffic = load(instances, CALLERS);
    try {
      // Until the shares reflect the load: every instance wants more than a third.
      await until('shares to settle', async () => {
        const bodies = await Promise.all(instances.map(health));
        const shares = bodies.map((b) => primaryShare(b)!);
        return (
          shares.every((s) => s.settled && s.instances === 3) &&
          shares.reduce((a, s) => a + s.share, 0) === BUDGET
        );
      });
      samples.reset();
      await new Promise((r) => setTimeout(r, 4_000));
      const bodies = await Promise.all(instances.map(health));
      const peak = samples.peak();
      figures.sharing = {
        peakPrimary: peak.primary,
        peakReplica: peak.replica,
        samples: peak.samples,
        shares: Object.fromEntries(bodies.map((b, i) => [NAMES[i], primaryShare(b)!.share])),
      };
      expect(peak.samples).toBeGreaterThan(5);
      expect(peak.primary).toBeLessThanOrEqual(BUDGET);
      expect(peak.replica).toBeLessThanOrEqual(BUDGET);
      // The budget is used, not just respected.
      expect(peak.primary).toBeGreaterThanOrEqual(BUDGET - 1);
      for (const body of bodies) expect(primaryShare(body)!.share).toBeGreaterThanOrEqual(1);
    } finally {
      await traffic.stop();
      await samples.stop();
    }
    for (const [name, count] of traffic.counts) {
      expect(count.ok, `${name}: ${count.lastError}`).toBeGreaterThan(0);
      expect(count.failed, `${name}: ${count.lastError}`).toBe(0);
    }
  });

  it('gives a killed instance’s share to the others once its lease runs out', async () => {
    const [a, b, c] = instances as [Instance, Instance, Instance];
    const samples = sampler();
    const traffic = load([a, b], CALLERS);
    try {
      const before = await Promise.all([a, b].map(health));
      const exited = new Promise((r) => c.child.once('exit', r));
      const killedAt = performance.now();
      c.child.kill('SIGKILL');
      await exited;
      await until('the survivors to hold the whole budget', async () => {
        const bodies = await Promise.all([a, b].map(health));
        return bodies.reduce((sum, body) => sum + primaryShare(body)!.share, 0) === BUDGET;
      });
      const reclaimMs = Math.round(performance.now() - killedAt);
      // And in use: the survivors' connections reach the budget.
      await until(
        'the survivors to use the whole budget',
        async () => (await serverConnections(admin.primary)) === BUDGET,
      );
      const usedMs = Math.round(performance.now() - killedAt);
      const peak = samples.peak();
      figures.afterKill = {
        peakPrimary: peak.primary,
        reclaimMs,
        inUseMs: usedMs,
        sharesBefore: before.map((body) => primaryShare(body)!.share),
      };
      expect(peak.primary).toBeLessThanOrEqual(BUDGET);
      expect(peak.replica).toBeLessThanOrEqual(BUDGET);
    } finally {
      await traffic.stop();
      await samples.stop();
    }
    for (const [name, count] of traffic.counts) expect(count.failed, `${name}: ${count.lastError}`).toBe(0);
  });

  it('keeps serving within the last shares while Redis is down, degraded; rebalances once it is back', async () => {
    const [a, b] = instances as [Instance, Instance];
    const samples = sampler();
    const traffic = load([a, b], CALLERS);
    try {
      await redis.stop();
      const frozen = await until('both to report degraded', async () => {
        const bodies = await Promise.all([a, b].map(health));
        return bodies.every((body) => body.status === 'degraded' && body.fleet?.redis.up === false)
          ? bodies
          : null;
      });
      const shares = frozen.map((body) => primaryShare(body)!.share);
      expect(shares.reduce((x, y) => x + y, 0)).toBeLessThanOrEqual(BUDGET);
      const okBefore = [...traffic.counts.values()].reduce((n, c) => n + c.ok, 0);
      // A while without Redis: figures from each instance and from the server.
      const deadline = Date.now() + 3_000;
      const most = [0, 0];
      while (Date.now() < deadline) {
        const bodies = await Promise.all([a, b].map(health));
        bodies.forEach((body, i) => {
          const primary = body.targets.find((t) => t.name === 'primary')!;
          most[i] = Math.max(most[i]!, primary.pool.total);
          expect(body.status).toBe('degraded');
          expect(primaryShare(body)!.share).toBe(shares[i]);
        });
        await new Promise((r) => setTimeout(r, 100));
      }
      const okDuring = [...traffic.counts.values()].reduce((n, c) => n + c.ok, 0) - okBefore;
      expect(okDuring).toBeGreaterThan(0);
      for (const [i, n] of most.entries()) expect(n).toBeLessThanOrEqual(shares[i]!);
      const outagePeak = samples.peak();
      expect(outagePeak.primary).toBeLessThanOrEqual(BUDGET);

      const restartedAt = performance.now();
      await redis.start();
      const settled = await until('the shares to be renewed and settled again', async () => {
        const bodies = await Promise.all([a, b].map(health));
        const renewed = bodies.map((body) => primaryShare(body)!);
        return bodies.every((body) => body.status === 'ok') &&
          renewed.every((s) => s.settled && s.instances === 2) &&
          renewed.reduce((sum, s) => sum + s.share, 0) === BUDGET
          ? renewed
          : null;
      });
      const rebalanceMs = Math.round(performance.now() - restartedAt);
      const peak = samples.peak();
      figures.redisOutage = {
        peakPrimary: peak.primary,
        frozenShares: shares,
        mostHeldDuringOutage: most,
        statementsDuringOutage: okDuring,
        rebalanceMsAfterRedisBack: rebalanceMs,
        sharesAfter: settled.map((s) => s.share),
      };
      expect(peak.primary).toBeLessThanOrEqual(BUDGET);
      expect(peak.replica).toBeLessThanOrEqual(BUDGET);
    } finally {
      if (!redis.running) await redis.start();
      await traffic.stop();
      await samples.stop();
    }
    for (const [name, count] of traffic.counts) expect(count.failed, `${name}: ${count.lastError}`).toBe(0);
  });
});
