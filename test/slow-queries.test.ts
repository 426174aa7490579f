import { describe, expect, inject, it } from 'vitest';
import { eventually, run } from './harness/database.js';
import { useTestServer } from './harness/server.js';

const { primaryUrl } = inject('databases');
const ADMIN = 'admin-token-slow-queries-0001';
const VIEWER = 'viewer-token-slow-queries-001';

const SLOW = `query($min: Float, $calls: Int, $order: SlowQueryOrder) {
  slowQueries(limit: 50, minMeanMs: $min, minCalls: $calls, orderBy: $order) {
    id query calls meanMs totalMs maxMs rows rowsPerCall sharePercent cacheHitRatio source
  }
  queryStatistics { source suggestion minCalls minMeanMs extension { schema preloaded available } }
}`;

describe('slowQueries', () => {
  const server = useTestServer(
    { API_TOKENS: `admin:${ADMIN},viewer:${VIEWER}` },
    {
      prefix: 'slowq',
      seed: async ({ url }) => {
        await run(
          url,
          `CREATE TABLE orders AS SELECT g AS id, g % 5000 AS customer_id, now() - g * interval '1 minute' AS created_at,
              md5(g::text) AS note FROM generate_series(1, 120000) g; ANALYZE orders`,
        );
      },
    },
  );

  it("falls back to poolpilot's own observations, with a suggestion, when the extension is missing here", async () => {
    for (let i = 0; i < 5; i++)
      await server.pp.poolpilot.execute('SELECT count(*) FROM orders WHERE customer_id = $1', [i]);
    const res = await server.pp.gql<any>(SLOW, { min: 0, calls: 1 }, VIEWER);
    expect(res.errors).toBeUndefined();
    expect(res.data.queryStatistics).toMatchObject({
      source: 'OBSERVATIONS',
      extension: { schema: null, preloaded: true, available: true },
    });
    expect(res.data.queryStatistics.suggestion).toMatch(/ENABLE_PG_STAT_STATEMENTS/);
    const mine = res.data.slowQueries.find((q: any) => /FROM orders WHERE customer_id = \$1/.test(q.query));
    expect(mine).toMatchObject({ calls: 5, source: 'OBSERVATIONS', rows: 5, rowsPerCall: 1 });
    expect(mine.meanMs).toBeGreaterThan(0);
    expect(mine.totalMs).toBeGreaterThanOrEqual(mine.meanMs * 5 - 1e-6);
  });

  it("reads pg_stat_statements for this database only, leaving poolpilot's own statements out", async () => {
    const list = await server.pp.gql<any>(
      '{ optimizations(kind: ENABLE_PG_STAT_STATEMENTS) { id statements risk } }',
      {},
      ADMIN,
    );
    expect(list.data.optimizations[0]).toMatchObject({
      statements: ['CREATE EXTENSION IF NOT EXISTS pg_stat_statements'],
      risk: 'LOW',
    });
    const applied = await server.pp.gql<any>(
      'mutation($id: ID!) { applyOptimization(id: $id) { outcome executed } }',
      { id: list.data.optimizations[0].id },
      ADMIN,
    );
    expect(applied.errors).toBeUndefined();
    expect(applied.data.applyOptimization).toMatchObject({ outcome: 'APPLIED' });
    await server.pp.gql('mutation { resetQueryStatistics { sources } }', {}, ADMIN);
    for (let i = 0; i < 12; i++) await run(server.url, 'SELECT * FROM orders WHERE customer_id = $1', [i]);
    // Another database's statements never show up here.
    await run(primaryUrl, 'SELECT count(*) FROM pg_class WHERE relname = $1', ['orders']);

    const res = await eventually(async () => {
      const r = await server.pp.gql<any>(SLOW, { min: 0, calls: 10, order: 'CALLS' }, VIEWER);
      return r.data?.slowQueries?.length ? r : null;
    });
    expect(res.data.queryStatistics.source).toBe('PG_STAT_STATEMENTS');
    const q = res.data.slowQueries.find((x: any) => /FROM orders WHERE customer_id = \$1/.test(x.query));
    expect(q).toMatchObject({ calls: 12, source: 'PG_STAT_STATEMENTS', rows: 12 * 24, rowsPerCall: 24 });
    expect(q.meanMs).toBeGreaterThan(0);
    expect(q.sharePercent).toBeGreaterThan(0);
    expect(q.sharePercent).toBeLessThanOrEqual(100);
    expect(q.cacheHitRatio).toBeGreaterThanOrEqual(0);
    expect(res.data.slowQueries.some((x: any) => x.query.startsWith('/* poolpilot */'))).toBe(false);
    expect(res.data.slowQueries.some((x: any) => x.query.includes('pg_class WHERE relname'))).toBe(false);

    // The configured thresholds (100 calls, 20 ms by default) hide it.
    const strict = await server.pp.gql<any>(SLOW, {}, VIEWER);
    expect(strict.data.queryStatistics).toMatchObject({ minCalls: 100, minMeanMs: 20 });
    expect(strict.data.slowQueries.some((x: any) => x.id === q.id)).toBe(false);
  });

  it('resets statistics for admins only', async () => {
    const denied = await server.pp.gql<any>('mutation { resetQueryStatistics { sources } }', {}, VIEWER);
    expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const ok = await server.pp.gql<any>('mutation { resetQueryStatistics { sources resetAt } }', {}, ADMIN);
    expect(ok.data.resetQueryStatistics.sources).toEqual(['PG_STAT_STATEMENTS', 'OBSERVATIONS']);
    const after = await server.pp.gql<any>(SLOW, { min: 0, calls: 2 }, VIEWER);
    expect(after.data.slowQueries.some((x: any) => /FROM orders WHERE customer_id/.test(x.query))).toBe(
      false,
    );
  });
});
