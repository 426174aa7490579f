import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, eventually, run, type TestDatabase } from './harness/database.js';
import { createProblemTables, idleInTransaction, runSlowLookups } from './harness/optimizer-fixtures.js';
import { type RunningPoolpilot, startPoolpilot } from './harness/server.js';

const { primaryUrl } = inject('databases');

const LIST = `{ optimizations { id kind title rationale risk statements action applicable requiresRestart evidence artifact } }`;

describe('optimizations', () => {
  let pp: RunningPoolpilot;
  let db: TestDatabase;
  let session: { pid: number; close: () => Promise<void> };

  beforeAll(async () => {
    db = await createTestDatabase(primaryUrl, null, 'optim');
    await createProblemTables(db.url(primaryUrl), db.adminUrl(primaryUrl));
    pp = await startPoolpilot({
      DATABASE_URL: db.url(primaryUrl),
      SLOW_QUERY_MIN_CALLS: '5',
      SLOW_QUERY_MIN_MEAN_MS: '0',
      IDLE_IN_TRANSACTION_LIMIT_MS: '1000',
      PARTITION_MIN_ROWS: '120000',
      DB_POOL_MIN: '1',
      DB_POOL_SIZE: '2',
      DB_SERVER_CPUS: '4',
      DB_SERVER_MEMORY_MB: '8192',
    });
    await runSlowLookups(db.url(primaryUrl), 20);
    session = await idleInTransaction(db.url(primaryUrl));
  });
  afterAll(async () => {
    await session?.close();
    await pp?.close();
    await db?.drop();
  });

  const list = async () => {
    const res = await pp.gql<any>(LIST);
    expect(res.errors).toBeUndefined();
    return res.data.optimizations as any[];
  };

  it('suggests an index on the column a slow statement filters on, with the numbers', async () => {
    const index = (await list()).find((o) => o.kind === 'CREATE_INDEX');
    expect(index).toBeDefined();
    expect(index.statements).toEqual([
      'CREATE INDEX CONCURRENTLY "events_account_id_idx" ON "public"."events" ("account_id")',
    ]);
    expect(index.risk).toBe('LOW');
    expect(index.evidence).toMatchObject({
      table: 'public.events',
      columns: ['account_id'],
      tableRows: 150000,
      hypopg: false,
    });
    expect(index.evidence.seqScans).toBeGreaterThanOrEqual(20);
    expect(index.evidence.rowsPerSeqScan).toBeGreaterThan(100_000);
    expect(index.evidence.rowsReturnedPerCall).toBeLessThan(10);
    expect(index.evidence.selectivity).toBeLessThan(0.001);
    expect(index.evidence.columnStats[0]).toMatchObject({ column: 'account_id', predicate: 'equality' });
    expect(index.evidence.seqScanCost).toBeGreaterThan(1000);
    expect(index.rationale).toMatch(/sequential scan/);
    // The low-cardinality `kind` column and the tiny pk lookups get no index.
    expect((await list()).filter((o) => o.kind === 'CREATE_INDEX')).toHaveLength(1);
  });

  it('flags stale statistics, the idle-in-transaction session and a partition candidate', async () => {
    const all = await eventually(async () => {
      const l = await list();
      return l.some((o) => o.kind === 'TERMINATE_IDLE_IN_TRANSACTION') ? l : null;
    });
    const analyze = all.find((o) => o.kind === 'ANALYZE_TABLE' && o.title.includes('audit_log'));
    expect(analyze).toMatchObject({ statements: ['ANALYZE "public"."audit_log"'], risk: 'LOW' });
    expect(analyze.evidence).toMatchObject({
      liveRows: 100000,
      modifiedSinceAnalyze: 100000,
      lastAnalyzed: null,
    });
    expect(all.some((o) => o.kind === 'ANALYZE_TABLE' && o.title.includes('events'))).toBe(false);

    const terminate = all.find((o) => o.kind === 'TERMINATE_IDLE_IN_TRANSACTION');
    expect(terminate).toMatchObject({
      risk: 'MEDIUM',
      statements: [`SELECT pg_terminate_backend(${session.pid})`],
    });
    expect(terminate.evidence).toMatchObject({
      pid: session.pid,
      application: 'report-job',
      state: 'idle in transaction',
    });
    expect(terminate.evidence.idleMs).toBeGreaterThanOrEqual(1000);
    // poolpilot's own connections are never suggested.
    const own = await run(
      primaryUrl,
      `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name IN ('poolpilot', 'poolpilot-health')`,
      [db.name],
    );
    for (const { pid } of own.rows) expect(all.some((o) => o.evidence.pid === pid)).toBe(false);

    const partition = all.find((o) => o.kind === 'PARTITION_TABLE');
    expect(partition).toMatchObject({
      title: 'Partition public.events by range on created_at',
      risk: 'HIGH',
      applicable: false,
    });

    const ini = all.find((o) => o.kind === 'PGBOUNCER_CONFIG');
    expect(ini.artifact).toContain('pool_mode = transaction');
    expect(ini.artifact).toContain('default_pool_size = 15'); // the guide's 4-CPU row
    expect(ini.artifact).toContain(`dbname=${db.name}`);
    expect(ini.artifact).not.toContain(new URL(primaryUrl).password);
  });

  it('suggests a bigger pool when callers queue for connections', async () => {
    // Twelve concurrent statements against a pool of two.
    await Promise.all(
      Array.from({ length: 12 }, () => pp.poolpilot.cluster.primary.pool.query('SELECT pg_sleep(0.15)')),
    );
    const resize = (await list()).find((o) => o.kind === 'POOL_RESIZE');
    expect(resize).toMatchObject({
      title: 'Grow the pool from 2 to 25 connections',
      risk: 'LOW',
      statements: [],
    });
    expect(resize.evidence.acquireWaitP95Ms).toBeGreaterThanOrEqual(5);
    expect(resize.evidence).toMatchObject({ currentMax: 2, recommendedMax: 25, cpus: 4 });
  });

  it('keeps the same id for the same problem', async () => {
    const first = (await list()).map((o) => `${o.kind}:${o.id}`).sort();
    await runSlowLookups(db.url(primaryUrl), 3);
    const second = (await list()).map((o) => `${o.kind}:${o.id}`).sort();
    expect(second).toEqual(first);
  });

  it('returns exactly what would run on a dry run, and changes nothing', async () => {
    const all = await list();
    const index = all.find((o) => o.kind === 'CREATE_INDEX');
    const terminate = all.find((o) => o.kind === 'TERMINATE_IDLE_IN_TRANSACTION');
    const resize = all.find((o) => o.kind === 'POOL_RESIZE');
    for (const o of [index, terminate, resize]) {
      const res = await pp.gql<any>(
        'mutation($id: ID!) { applyOptimization(id: $id, dryRun: true) { outcome dryRun statements executed message audit { outcome dryRun } } }',
        { id: o.id },
      );
      expect(res.errors).toBeUndefined();
      expect(res.data.applyOptimization).toMatchObject({
        outcome: 'DRY_RUN',
        dryRun: true,
        statements: o.statements,
        executed: [],
        audit: { outcome: 'DRY_RUN', dryRun: true },
      });
    }
    const indexes = await run(
      db.url(primaryUrl),
      `SELECT count(*)::int AS n FROM pg_indexes WHERE tablename = 'events'`,
    );
    expect(indexes.rows[0].n).toBe(1); // the primary key only
    const alive = await run(primaryUrl, 'SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [
      session.pid,
    ]);
    expect(alive.rows[0].n).toBe(1);
    expect(pp.poolpilot.cluster.primary.pool.options.max).toBe(2);
    const again = await list();
    expect(again.map((o) => o.id)).toEqual(expect.arrayContaining([index.id, terminate.id, resize.id]));
  });
});
