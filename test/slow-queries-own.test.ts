import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, eventually, run, type TestDatabase } from './harness/database.js';
import { type RunningPoolpilot, startPoolpilot } from './harness/server.js';

const { primaryUrl } = inject('databases');

const SLOW = `{ slowQueries(limit: 500, minMeanMs: 0, minCalls: 1) { query calls } queryStatistics { source } }`;
const FORGED = '/* poolpilot */ SELECT * FROM orders WHERE customer_id = $1';

/**
 * poolpilot leaves its own statements out of slowQueries. A leading `/* poolpilot *\/` used to be
 * the test, so a caller's statement (and every later one of the same shape, since
 * pg_stat_statements keeps the first text it saw) could hide itself. Both configurations:
 * a control-plane role of its own, and one role for everything.
 */
describe.each([
  ['a control-plane role of its own (left out by role)', true],
  ['one role for data and control plane (left out by exact text)', false],
])('slowQueries with %s', (_name, separateAdmin) => {
  let pp: RunningPoolpilot;
  let db: TestDatabase;
  let callerUrl: string;

  beforeAll(async () => {
    db = await createTestDatabase(primaryUrl, null, 'slowown');
    await run(db.adminUrl(primaryUrl), 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await run(
      db.url(primaryUrl),
      `CREATE TABLE orders AS SELECT g AS id, g % 500 AS customer_id FROM generate_series(1, 20000) g; ANALYZE orders`,
    );
    // One role for everything: the superuser, as before roles were split (the control plane
    // needs pg_monitor's reads, which the test data role lacks).
    callerUrl = separateAdmin ? db.url(primaryUrl) : db.adminUrl(primaryUrl);
    pp = await startPoolpilot({
      DATABASE_URL: callerUrl,
      ADMIN_DATABASE_URL: db.adminUrl(primaryUrl),
      DB_POOL_MIN: '1',
    });
    await run(
      db.adminUrl(primaryUrl),
      'SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)',
    );
  });
  afterAll(async () => {
    await pp?.close();
    await db?.drop();
  });

  it("lists a caller's statement that starts with /* poolpilot */, and none of poolpilot's own", async () => {
    expect(
      pp.poolpilot.cluster.primary.spec.adminEndpoint.user ===
        pp.poolpilot.cluster.primary.spec.endpoint.user,
    ).toBe(!separateAdmin);
    // A caller, straight to PostgreSQL as the data role.
    const caller = new pg.Client({ connectionString: callerUrl });
    await caller.connect();
    try {
      for (let i = 0; i < 5; i++) await caller.query(FORGED, [i]);
    } finally {
      await caller.end();
    }
    // poolpilot's own work of every kind: planning and a write through the data path, insights,
    // optimizations, the audit trail, telemetry.
    await pp.poolpilot.execute('SELECT count(*) FROM orders WHERE customer_id = $1', [7]);
    await pp.poolpilot.execute('INSERT INTO orders VALUES ($1, $2)', [-1, 1]);
    await pp.poolpilot.insights.connectionStates();
    await pp.poolpilot.insights.tables();
    await pp.poolpilot.insights.settings();
    await pp.poolpilot.optimizer.list();
    await pp.poolpilot.optimizer.history();
    await pp.poolpilot.insights.slowQueries.list();

    const res = await eventually(async () => {
      const r = await pp.gql<any>(SLOW);
      return r.data?.slowQueries?.some((q: any) => q.query === FORGED) ? r : null;
    });
    expect(res.data.queryStatistics.source).toBe('PG_STAT_STATEMENTS');
    const queries: { query: string; calls: number }[] = res.data.slowQueries;
    expect(queries.find((q) => q.query === FORGED)).toMatchObject({ calls: 5 });
    // The caller's own statement through poolpilot is there too...
    expect(
      queries.some((q) => q.query.includes('FROM orders WHERE customer_id = $1') && q.query !== FORGED),
    ).toBe(true);
    // ...and nothing poolpilot sent of its own.
    const own = queries.filter(
      (q) => q.query !== FORGED && /^\/\* poolpilot \*\/|poolpilot\.|EXPLAIN|pg_stat_activity/.test(q.query),
    );
    expect(own.map((q) => q.query)).toEqual([]);
  });
});
