import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { analysisBatching } from '../src/graphql/types/insights-loaders.js';
import { createTestDatabase, run, type TestDatabase } from './harness/database.js';
import { type RunningPoolpilot, startPoolpilot } from './harness/server.js';

const { primaryUrl } = inject('databases');

const PAGE = `{
  slowQueries(limit: 50, minCalls: 2, minMeanMs: 0, orderBy: CALLS) {
    id query calls analysis { fingerprint complexity severity route recommendations planned cached }
  }
}`;

describe('slowQueries analyses through a DataLoader', () => {
  let pp: RunningPoolpilot;
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase(primaryUrl, null, 'loader');
    const url = db.url(primaryUrl);
    await run(db.adminUrl(primaryUrl), 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await run(
      url,
      `CREATE TABLE items AS SELECT g AS id, md5(g::text) AS name FROM generate_series(1, 100000) g;
       ALTER TABLE items ADD PRIMARY KEY (id);`,
    );
    await run(url, 'ANALYZE items');
    await run(db.adminUrl(primaryUrl), 'SELECT pg_stat_statements_reset()');
    // Sixty distinct shapes (the expression tree differs; aliases and constants would not), each
    // run twice: more than one page.
    const statements = Array.from(
      { length: 60 },
      (_, i) => `SELECT id${' + id'.repeat(i)}, name FROM items WHERE id = ${i + 1};`,
    );
    await run(url, statements.join('\n') + statements.join('\n'));
    pp = await startPoolpilot({ DATABASE_URL: url });
  });
  afterAll(async () => {
    await pp?.close();
    await db?.drop();
  });

  it('resolves a page of 50 analyses in one batch, and a second page from cache without per-row queries', async () => {
    // Every connection hand-out on the primary: slowQueries' own statements and the analyzer's plans.
    let leases = 0;
    const stop = pp.poolpilot.cluster.primary.pool.observe({
      acquired: () => {
        leases += 1;
      },
    });
    const batches = analysisBatching.batches;
    const keys = analysisBatching.keys;

    const first = await pp.gql<any>(PAGE);
    expect(first.errors).toBeUndefined();
    const page = first.data.slowQueries;
    expect(page).toHaveLength(50);
    for (const q of page) {
      expect(q.analysis).not.toBeNull();
      expect(q.analysis.complexity).toBeGreaterThanOrEqual(0);
      expect(['FAST', 'MEDIUM', 'COMPLEX']).toContain(q.analysis.route);
      expect(q.analysis.planned).toBe(true);
    }
    expect(analysisBatching.batches - batches).toBe(1);
    expect(analysisBatching.keys - keys).toBe(50);
    // The list (2) plus one planner consultation per shape never seen before, all from one batch.
    const firstLeases = leases;
    expect(firstLeases).toBeLessThanOrEqual(2 + 50);

    leases = 0;
    const second = await pp.gql<any>(PAGE);
    expect(second.data.slowQueries).toHaveLength(50);
    // The analyzer's own planning statements show up in pg_stat_statements in between, as new
    // shapes; every shape of the first page is answered from the analyzer's cache.
    const seen = new Set(page.map((q: any) => q.id));
    const repeated = second.data.slowQueries.filter((q: any) => seen.has(q.id));
    const fresh = second.data.slowQueries.length - repeated.length;
    expect(repeated.length).toBeGreaterThan(40);
    expect(repeated.every((q: any) => q.analysis.cached)).toBe(true);
    expect(analysisBatching.batches - batches).toBe(2);
    // slowQueries' own two statements plus the new shapes only: nothing per cached row.
    expect(leases).toBeLessThanOrEqual(2 + fresh);
    stop();
    console.log(
      `page of 50: 1 batch per request; connection hand-outs on the primary: first ${firstLeases}, next ${leases} (${fresh} new shapes)`,
    );
  });
});
