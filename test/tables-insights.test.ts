import { describe, expect, it } from 'vitest';
import { eventually, run } from './harness/database.js';
import { useTestServer } from './harness/server.js';

const TABLES = `{
  tables(limit: 5) {
    schema name totalBytes tableBytes indexBytes estimatedRows liveRows deadRows seqScans seqRowsRead indexScans
    inserted updated deleted lastAnalyze timeColumns partitionAdvice { column reason }
  }
}`;

describe('tables', () => {
  const server = useTestServer(
    { PARTITION_MIN_ROWS: '100000' },
    {
      prefix: 'tables',
      seed: async ({ url }) => {
        // An append-only log with a time column, and a smaller table that is updated all the time.
        await run(
          url,
          `CREATE TABLE page_views (id bigint, path text, viewed_at timestamptz);
       INSERT INTO page_views SELECT g, '/p/' || (g % 300), now() - g * interval '1 second' FROM generate_series(1, 130000) g;
       CREATE TABLE counters (id int PRIMARY KEY, n int, updated_at timestamptz);
       INSERT INTO counters SELECT g, 0, now() FROM generate_series(1, 110000) g;`,
        );
        await run(url, 'UPDATE counters SET n = n + 1, updated_at = now() WHERE id <= 60000');
        await run(url, 'ANALYZE page_views; ANALYZE counters');
        await run(url, 'SELECT count(*) FROM page_views WHERE path = $1', ['/p/1']);
      },
    },
  );

  it('lists the largest tables with sizes, scans and maintenance, and advises partitioning an append-mostly one', async () => {
    const tables = await eventually(async () => {
      const res = await server.pp.gql<any>(TABLES);
      const t = res.data?.tables;
      return t?.find((x: any) => x.name === 'counters')?.updated >= 60000 &&
        t.find((x: any) => x.name === 'page_views')?.seqScans >= 1
        ? t
        : null;
    });
    expect(tables.map((t: any) => t.name).sort()).toEqual(['counters', 'page_views']);
    const sizes = tables.map((t: any) => t.totalBytes);
    expect(sizes).toEqual([...sizes].sort((a, b) => b - a));
    const views = tables.find((t: any) => t.name === 'page_views');
    expect(views).toMatchObject({
      schema: 'public',
      liveRows: 130000,
      inserted: 130000,
      updated: 0,
      timeColumns: ['viewed_at'],
    });
    expect(views.totalBytes).toBeGreaterThanOrEqual(views.tableBytes);
    expect(views.seqRowsRead).toBeGreaterThanOrEqual(130000);
    expect(views.estimatedRows).toBeGreaterThan(100000);
    expect(views.lastAnalyze).not.toBeNull();
    expect(views.partitionAdvice.column).toBe('viewed_at');
    expect(views.partitionAdvice.reason).toMatch(/append-mostly/);

    const counters = tables.find((t: any) => t.name === 'counters');
    expect(counters.indexBytes).toBeGreaterThan(0);
    expect(counters.deadRows).toBeGreaterThan(0);
    // Updated too often to be append-mostly.
    expect(counters.partitionAdvice).toBeNull();
  });
});
