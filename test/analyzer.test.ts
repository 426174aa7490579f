import { describe, expect, it } from 'vitest';
import { freePort } from '../src/embedded/index.js';
import { run } from './harness/database.js';
import { startPoolpilot, useTestCore } from './harness/server.js';
import { createShop, GUIDE_QUERY } from './support/shop.js';

describe('query analyzer', () => {
  const server = useTestCore(
    { DB_POOL_MIN: '1', DB_POOL_SIZE: '4' },
    { prefix: 'pp_an', seed: ({ url }) => createShop(url, null) },
  );

  const analyze = (sql: string) => server.poolpilot.analyzer.analyze(sql);

  it('scores the guide example HIGH or CRITICAL and COMPLEX on realistic tables', async () => {
    const a = await analyze(GUIDE_QUERY);
    expect(['HIGH', 'CRITICAL']).toContain(a.severity);
    expect(a.route).toBe('COMPLEX');
    expect(a.complexity).toBeGreaterThanOrEqual(50);
    // PostgreSQL itself rejects the guide's GROUP BY; the score then rests on table sizes.
    expect(a.planError).toMatch(/GROUP BY/);
    expect(a.basis).toBe('table sizes');
    expect(a.tableRows).toMatchObject({ users: 20_000, orders: 300_000 });
    expect(a.recommendations.join('\n')).toMatch(/select only the columns you need/);
    expect(a.recommendations.join('\n')).toMatch(/add LIMIT/);
  });

  it('scores a valid join + aggregate + sort over the big table from the plan', async () => {
    const a = await analyze(
      'SELECT u.id, u.name, sum(o.total) AS spent FROM users u JOIN orders o ON o.user_id = u.id WHERE o.total > 100 GROUP BY u.id ORDER BY spent DESC',
    );
    expect(a.planned).toBe(true);
    expect(a.plan!.totalCost).toBeGreaterThan(1000);
    expect(a.plan!.seqScans.map((s) => s.relation)).toContain('"public"."orders"');
    expect(a.route).toBe('COMPLEX');
    expect(['HIGH', 'CRITICAL']).toContain(a.severity);
  });

  it('names the index to add for a sequential scan of a large table', async () => {
    const a = await analyze('SELECT id, total FROM orders WHERE user_id = 42');
    expect(a.recommendations[0]).toBe(
      'index public.orders(user_id): sequential scan of 300k rows filtered on user_id',
    );
    expect(a.factors.map((f) => f.name)).toContain('largeSeqScans');
    expect(a.route).toBe('MEDIUM');
  });

  it('keeps cheap indexed lookups FAST and LOW', async () => {
    const a = await analyze('SELECT id, total FROM orders WHERE id = $1');
    expect(a.planned).toBe(true); // GENERIC_PLAN for $n on PostgreSQL 16
    expect(a.complexity).toBeLessThan(10);
    expect(a).toMatchObject({ severity: 'LOW', route: 'FAST', writes: false });
  });

  it('extracts every structural feature from the parse tree', async () => {
    const a = await analyze(`
      WITH recent AS (SELECT * FROM orders WHERE created_at > now() - interval '1 day')
      SELECT DISTINCT u.name, row_number() OVER (ORDER BY u.id), count(*)
      FROM users u JOIN recent r ON r.user_id = u.id
      WHERE u.email LIKE '%@example.com' AND u.id IN (SELECT user_id FROM orders WHERE total > 400)
      GROUP BY u.id, u.name HAVING count(*) > 1
      UNION ALL SELECT label, 0, 0 FROM items ORDER BY 1 LIMIT 50`);
    expect(a.features).toMatchObject({
      statements: ['SELECT'],
      joins: 1,
      subqueries: 1,
      ctes: 1,
      modifyingCtes: 0,
      groupBy: true,
      having: true,
      distinct: true,
      windowFunctions: 1,
      setOperations: 1,
      limit: true,
      orderBy: true,
      leadingWildcardLike: 1,
      selectStar: false,
    });
    expect(a.features.aggregates).toBeGreaterThanOrEqual(1);
    expect(a.tables.sort()).toEqual(['items', 'orders', 'users']);
    expect(a.writes).toBe(false);
  });

  it('plans writes without running them', async () => {
    const before = (await run(server.url, 'SELECT count(*)::int AS n FROM items')).rows[0].n;
    const del = await analyze('DELETE FROM items');
    const ins = await analyze("INSERT INTO items VALUES (9999, 'never')");
    const upd = await analyze("UPDATE items SET label = 'never' WHERE id = 1");
    for (const a of [del, ins, upd]) {
      expect(a.writes).toBe(true);
      expect(a.planned).toBe(true);
    }
    const { rows } = await run(
      server.url,
      "SELECT count(*)::int AS n, count(*) FILTER (WHERE label = 'never')::int AS never FROM items",
    );
    expect(rows[0]).toEqual({ n: before, never: 0 });
  });

  it('answers a repeated text and a repeated shape from the cache', async () => {
    const first = await analyze('SELECT name FROM users WHERE id = 7');
    const before = server.poolpilot.analyzer.stats();
    const again = await analyze('SELECT name FROM users WHERE id = 7');
    const sameShape = await analyze('SELECT  name FROM users WHERE id = 8 -- other constant');
    const after = server.poolpilot.analyzer.stats();
    expect(first.cached).toBe(false);
    expect(again.cached).toBe(true);
    expect(sameShape.cached).toBe(true);
    expect(sameShape.fingerprint).toBe(first.fingerprint);
    expect(after.hits - before.hits).toBe(1);
    expect(after.shapeHits - before.shapeHits).toBe(1);
    expect(after.misses).toBe(before.misses);
  });

  it('reports a syntax error with its position', async () => {
    const a = await analyze('SELECT * FROM users WHERE');
    expect(a.parseError).toMatchObject({ message: expect.stringMatching(/syntax error/) });
    expect(a.parseError!.position).toBeGreaterThan(20);
    // Unknown, not "writes": judged (PostgreSQL's grammar said no), and routed to the primary.
    expect(a.writes).toBeNull();
    expect(a.judged).toBe(true);
    expect(server.poolpilot.router.decide(a).target).toBe('primary');
  });
});

describe('query analyzer without a database', () => {
  it('answers from the parse alone and says so', async () => {
    const port = await freePort();
    const pp = await startPoolpilot({
      DATABASE_URL: `postgres://postgres:x@127.0.0.1:${port}/none`,
      DB_POOL_MIN: '0',
      DB_CONN_TIMEOUT: '500',
    });
    try {
      const a = await pp.poolpilot.analyzer.analyze(GUIDE_QUERY);
      expect(a.basis).toBe('parse only');
      expect(a.planned).toBe(false);
      expect(a.note).toMatch(/no database reachable/);
      expect(a.features.joins).toBe(1);
      expect(a.complexity).toBeGreaterThan(25);
      const res = await pp.gql<any>(
        'mutation($sql: String!) { analyzeQuery(sql: $sql) { complexity route note planned } }',
        {
          sql: 'SELECT 1',
        },
      );
      expect(res.errors).toBeUndefined();
      expect(res.data.analyzeQuery).toMatchObject({ planned: false, route: 'FAST' });
    } finally {
      await pp.close();
    }
  });
});
