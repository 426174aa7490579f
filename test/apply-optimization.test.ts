import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { execute } from '../src/core/optimizer/apply.js';
import { createTestDatabase, eventually, run, type TestDatabase } from './harness/database.js';
import { createProblemTables, idleInTransaction, runSlowLookups } from './harness/optimizer-fixtures.js';
import { type RunningPoolpilot, startPoolpilot } from './harness/server.js';

const { primaryUrl } = inject('databases');
const ADMIN = 'admin-token-apply-000000001';
const OPERATOR = 'operator-token-apply-000001';
const VIEWER = 'viewer-token-apply-00000001';

const APPLY = `mutation($id: ID!, $dryRun: Boolean) {
  applyOptimization(id: $id, dryRun: $dryRun) {
    id kind outcome dryRun statements executed before after message error audit { id actor outcome }
  }
}`;

describe('applyOptimization', () => {
  let pp: RunningPoolpilot;
  let db: TestDatabase;
  let url: string;

  beforeAll(async () => {
    db = await createTestDatabase(primaryUrl, null, 'apply');
    url = db.url(primaryUrl);
    await createProblemTables(url, db.adminUrl(primaryUrl));
    pp = await startPoolpilot({
      DATABASE_URL: url,
      API_TOKENS: `admin:${ADMIN},operator:${OPERATOR},viewer:${VIEWER}`,
      SLOW_QUERY_MIN_CALLS: '5',
      SLOW_QUERY_MIN_MEAN_MS: '0',
      IDLE_IN_TRANSACTION_LIMIT_MS: '1000',
      DB_POOL_MIN: '1',
      DB_POOL_SIZE: '2',
      DB_SERVER_CPUS: '2',
    });
    await runSlowLookups(url, 20);
  });
  afterAll(async () => {
    await pp?.close();
    await db?.drop();
  });

  const find = async (kind: string, match: (o: any) => boolean = () => true) => {
    const res = await pp.gql<any>(
      `{ optimizations(kind: ${kind}) { id title statements evidence } }`,
      {},
      VIEWER,
    );
    expect(res.errors).toBeUndefined();
    return res.data.optimizations.find(match);
  };
  const apply = async (id: string, token = ADMIN, dryRun = false) =>
    pp.gql<any>(APPLY, { id, dryRun }, token);

  it('lets neither a viewer nor an operator apply', async () => {
    const index = await find('CREATE_INDEX');
    for (const token of [VIEWER, OPERATOR]) {
      const res = await apply(index.id, token);
      expect(res.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const dry = await apply(index.id, token, true);
      expect(dry.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    const indexes = await run(url, `SELECT count(*)::int AS n FROM pg_indexes WHERE tablename = 'events'`);
    expect(indexes.rows[0].n).toBe(1);
  });

  it('builds the index concurrently, and the plan uses it', async () => {
    const index = await find('CREATE_INDEX');
    const res = await apply(index.id);
    expect(res.errors).toBeUndefined();
    const r = res.data.applyOptimization;
    expect(r).toMatchObject({
      outcome: 'APPLIED',
      executed: index.statements,
      error: null,
      audit: { actor: 'admin' },
    });
    expect(r.before.seqScans.map((s: any) => s.table)).toContain('events');
    expect(r.after.indexesUsed).toContain('events_account_id_idx');
    expect(r.after.totalCost).toBeLessThan(r.before.totalCost / 2);
    console.log(`plan cost before ${r.before.totalCost}, after ${r.after.totalCost} (${r.message})`);
    const valid = await run(
      url,
      `SELECT x.indisvalid FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE i.relname = 'events_account_id_idx'`,
    );
    expect(valid.rows).toEqual([{ indisvalid: true }]);
    const plan = await run(url, 'EXPLAIN (FORMAT JSON) SELECT id, kind FROM events WHERE account_id = 42');
    expect(JSON.stringify(plan.rows[0]['QUERY PLAN'])).toContain('events_account_id_idx');

    // The problem is gone: no longer suggested, and applying again changes nothing and says so.
    expect(await find('CREATE_INDEX')).toBeUndefined();
    const again = await apply(index.id);
    expect(again.data.applyOptimization).toMatchObject({ outcome: 'ALREADY_APPLIED', executed: [] });
    expect(again.data.applyOptimization.message).toMatch(/Already applied/);
  });

  it('drops the INVALID index a failed concurrent build leaves, and says so', async () => {
    await run(
      url,
      `CREATE TABLE dupes AS SELECT g % 50000 AS code, g AS id FROM generate_series(1, 100000) g; ANALYZE dupes`,
    );
    // A unique index over duplicate values fails after its catalog entry exists: the INVALID-index case.
    const effect = await execute(
      {
        id: 'x',
        kind: 'CREATE_INDEX',
        title: 'x',
        rationale: '',
        risk: 'LOW',
        statements: ['CREATE UNIQUE INDEX CONCURRENTLY "dupes_code_idx" ON "public"."dupes" ("code")'],
        actionSummary: '',
        applicable: true,
        requiresRestart: false,
        evidence: {},
        action: {
          type: 'create-index',
          schema: 'public',
          table: 'dupes',
          index: 'dupes_code_idx',
          columns: ['code'],
          query: 'SELECT id FROM dupes WHERE code = $1',
        },
      },
      pp.poolpilot.cluster,
    );
    expect(effect.ok).toBe(false);
    expect(effect.error).toMatch(/could not create unique index/);
    expect(effect.message).toMatch(/INVALID index it left was dropped/);
    expect(effect.executed).toEqual(['DROP INDEX CONCURRENTLY IF EXISTS "public"."dupes_code_idx"']);
    const left = await run(url, `SELECT count(*)::int AS n FROM pg_class WHERE relname = 'dupes_code_idx'`);
    expect(left.rows[0].n).toBe(0);
  });

  it('analyzes the table with stale statistics', async () => {
    const analyze = await find('ANALYZE_TABLE', (o) => o.title.includes('audit_log'));
    const res = await apply(analyze.id);
    expect(res.data.applyOptimization).toMatchObject({
      outcome: 'APPLIED',
      executed: ['ANALYZE "public"."audit_log"'],
    });
    const stats = await run(url, `SELECT count(*)::int AS n FROM pg_stats WHERE tablename = 'audit_log'`);
    expect(stats.rows[0].n).toBe(3);
    await eventually(async () => !(await find('ANALYZE_TABLE', (o) => o.title.includes('audit_log'))));
  });

  it('terminates the session idle in transaction, and only it', async () => {
    const session = await idleInTransaction(url);
    try {
      const terminate = await eventually(() =>
        find('TERMINATE_IDLE_IN_TRANSACTION', (o) => o.evidence.pid === session.pid),
      );
      const before = await run(
        primaryUrl,
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'poolpilot'`,
        [db.name],
      );
      const res = await apply(terminate.id);
      expect(res.data.applyOptimization).toMatchObject({
        outcome: 'APPLIED',
        after: { terminated: true, gone: true },
      });
      const gone = await run(primaryUrl, 'SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [
        session.pid,
      ]);
      expect(gone.rows[0].n).toBe(0);
      const after = await run(
        primaryUrl,
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'poolpilot'`,
        [db.name],
      );
      expect(after.rows[0].n).toBeGreaterThanOrEqual(Math.min(1, before.rows[0].n));
    } finally {
      await session.close();
    }
  });

  it('resizes the pool live', async () => {
    await Promise.all(
      Array.from({ length: 10 }, () => pp.poolpilot.cluster.primary.pool.query('SELECT pg_sleep(0.15)')),
    );
    const resize = await find('POOL_RESIZE');
    expect(resize.evidence).toMatchObject({ currentMax: 2, recommendedMax: 16 });
    const res = await apply(resize.id);
    expect(res.data.applyOptimization).toMatchObject({
      outcome: 'APPLIED',
      before: [{ target: 'primary', min: 1, max: 2 }],
      after: [{ target: 'primary', min: 1, max: 16 }],
    });
    expect(pp.poolpilot.cluster.primary.pool.options.max).toBe(16);
    const poolStats = await pp.gql<any>('{ poolStats { max } }', {}, VIEWER);
    expect(poolStats.data.poolStats.max).toBe(16);
  });

  it('answers OPTIMIZATION_NOT_FOUND for an unknown or stale id', async () => {
    const res = await apply('create-index-000000000000');
    expect(res.errors?.[0]?.extensions?.code).toBe('OPTIMIZATION_NOT_FOUND');
  });
});
