import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { run } from '../support/postgres-cluster.js';
import { createTestDatabase, type TestDatabase } from './harness/database.js';
import { startRedis, type TestRedis } from './harness/redis.js';
import { type RunningCore, startCore } from './harness/server.js';

/**
 * Two instances on one Redis (REDIS_URL): a statement shape planned by one is not planned by the
 * other. Counted twice: the analyzers' own planner counters, and the EXPLAINs PostgreSQL saw
 * (pg_stat_statements).
 */

let redis: TestRedis;
let db: TestDatabase;
let url: string;
const cores: RunningCore[] = [];

beforeAll(async () => {
  redis = await startRedis();
  const { primaryUrl } = inject('databases');
  db = await createTestDatabase(primaryUrl, null, 'pp_fleet_plan');
  url = db.url(primaryUrl);
  await run(db.adminUrl(primaryUrl), 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  const seed = new pg.Client({ connectionString: url });
  await seed.connect();
  await seed.query('CREATE TABLE orders (id int PRIMARY KEY, customer int, total numeric)');
  await seed.query('INSERT INTO orders SELECT g, g % 100, g FROM generate_series(1, 2000) g');
  await seed.query('ANALYZE orders');
  await seed.end();
  for (const name of ['plan-a', 'plan-b']) {
    cores.push(
      await startCore({
        DATABASE_URL: url,
        REDIS_URL: redis.url,
        INSTANCE_NAME: name,
        DB_POOL_SIZE: '4',
        DB_POOL_MIN: '1',
      }),
    );
  }
});

afterAll(async () => {
  await Promise.all(cores.map((c) => c.close()));
  await redis?.stop();
  await db?.drop();
});

async function explainsSeen(marker: string): Promise<number> {
  const client = new pg.Client({ connectionString: db.adminUrl(inject('databases').primaryUrl) });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT coalesce(sum(calls), 0)::int AS calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
        WHERE d.datname = $1 AND s.query LIKE '%EXPLAIN (FORMAT JSON%' AND s.query LIKE $2`,
      [db.name, `%${marker}%`],
    );
    return rows[0].calls as number;
  } finally {
    await client.end();
  }
}

describe('shared first-sight analysis', () => {
  it('plans a shape once across instances; the second instance takes the first one’s plan', async () => {
    const [a, b] = cores.map((c) => c.poolpilot) as [RunningCore['poolpilot'], RunningCore['poolpilot']];
    const sql =
      'SELECT customer_marker_7f3a.customer, sum(total) FROM orders customer_marker_7f3a WHERE customer = 42 GROUP BY 1';
    const before = { a: a.analyzer.stats().planned, b: b.analyzer.stats().planned };
    const first = await a.analyzer.analyze(sql);
    expect(first.planned).toBe(true);
    expect(a.analyzer.stats().planned).toBe(before.a + 1);
    // The store is fire-and-forget; it lands within a Redis round trip.
    await new Promise((r) => setTimeout(r, 50));
    const explainsAfterA = await explainsSeen('customer_marker_7f3a');
    expect(explainsAfterA).toBeGreaterThanOrEqual(1);

    // Same shape, other constants, on the other instance.
    const second = await b.analyzer.analyze(sql.replace('= 42', '= 7'));
    expect(b.analyzer.stats().planned).toBe(before.b);
    expect(b.analyzer.stats().sharedHits).toBe(1);
    expect(second.planned).toBe(true);
    expect(second.plan).toEqual(first.plan);
    expect(second.complexity).toBe(first.complexity);
    expect(await explainsSeen('customer_marker_7f3a')).toBe(explainsAfterA);
  });

  it('parses every text itself: a write of a known shape is still judged a write', async () => {
    const b = cores[1]!.poolpilot;
    const analysis = await b.analyzer.analyze('UPDATE orders SET total = total + 1 WHERE id = 3');
    expect(analysis.writes).toBe(true);
  });

  it('plans locally while Redis is unreachable', async () => {
    const [a, b] = cores.map((c) => c.poolpilot) as [RunningCore['poolpilot'], RunningCore['poolpilot']];
    const sql = 'SELECT count(*) FROM orders outage_marker_91c WHERE total > 1000';
    await a.analyzer.analyze(sql);
    await redis.stop();
    try {
      while (b.fleet!.link.up) await new Promise((r) => setTimeout(r, 20));
      const before = b.analyzer.stats().planned;
      const analysis = await b.analyzer.analyze(sql.replace('1000', '1500'));
      expect(analysis.planned).toBe(true);
      expect(b.analyzer.stats().planned).toBe(before + 1);
      expect(b.status()).toBe('degraded');
    } finally {
      await redis.start();
    }
  });
});
