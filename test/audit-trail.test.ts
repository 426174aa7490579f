import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type EmbeddedCluster, startEmbeddedCluster } from '../support/postgres-cluster.js';
import { createTestDatabase, eventually, run, type TestDatabase } from './harness/database.js';
import { type RunningPoolpilot, startPoolpilot } from './harness/server.js';

const { primaryUrl } = inject('databases');
const ADMIN = 'admin-token-audit-trail-0001';
const VIEWER = 'viewer-token-audit-trail-001';

const HISTORY = `query($id: ID) {
  optimizationHistory(id: $id) {
    id optimizationId kind title actor dryRun outcome statements executed before after message error startedAt finishedAt
  }
}`;

describe('audit trail', () => {
  let pp: RunningPoolpilot;
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase(primaryUrl, null, 'audit');
    await run(
      db.url(primaryUrl),
      'CREATE TABLE stale (id int, v text) WITH (autovacuum_enabled = false); INSERT INTO stale SELECT g, g::text FROM generate_series(1, 100000) g',
    );
    pp = await startPoolpilot({
      DATABASE_URL: db.url(primaryUrl),
      API_TOKENS: `admin:${ADMIN},viewer:${VIEWER}`,
    });
  });
  afterAll(async () => {
    await pp?.close();
    await db?.drop();
  });

  it('creates the poolpilot schema with versioned migrations at start, idempotently', async () => {
    // The schema belongs to the control-plane role: read it as the superuser.
    const versions = await run(
      db.adminUrl(primaryUrl),
      'SELECT version, name FROM poolpilot.schema_migrations ORDER BY version',
    );
    expect(versions.rows).toEqual([{ version: 1, name: 'optimization audit trail' }]);
    // A second instance against the same primary finds nothing to do.
    const second = await startPoolpilot({ DATABASE_URL: db.url(primaryUrl) });
    try {
      expect(second.poolpilot.audit.migrator.state).toEqual({ version: 1, latest: 1, error: null });
    } finally {
      await second.close();
    }
    const again = await run(
      db.adminUrl(primaryUrl),
      'SELECT count(*)::int AS n FROM poolpilot.schema_migrations',
    );
    expect(again.rows[0].n).toBe(1);
    // Its own tables are never suggested for anything.
    const list = await pp.gql<any>('{ optimizations { title } }', {}, VIEWER);
    expect(JSON.stringify(list.data.optimizations)).not.toContain('optimization_audit');
  });

  it('records every attempt: dry run, apply, repeat, unknown id, and a refused caller changes nothing', async () => {
    const list = await pp.gql<any>(
      '{ optimizations(kind: ANALYZE_TABLE) { id title statements } }',
      {},
      VIEWER,
    );
    const o = list.data.optimizations.find((x: any) => x.title.includes('stale'));
    const apply = (id: string, dryRun: boolean, token = ADMIN) =>
      pp.gql<any>(
        'mutation($id: ID!, $d: Boolean) { applyOptimization(id: $id, dryRun: $d) { outcome } }',
        { id, d: dryRun },
        token,
      );

    expect((await apply(o.id, true)).data.applyOptimization.outcome).toBe('DRY_RUN');
    expect((await apply(o.id, false, VIEWER)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await apply(o.id, false)).data.applyOptimization.outcome).toBe('APPLIED');
    await eventually(
      async () => (await apply(o.id, false)).data?.applyOptimization?.outcome === 'ALREADY_APPLIED',
    );
    expect((await apply('analyze-table-ffffffffffff', false)).errors?.[0]?.extensions?.code).toBe(
      'OPTIMIZATION_NOT_FOUND',
    );

    const mine = await pp.gql<any>(HISTORY, { id: o.id }, VIEWER);
    const entries = [...mine.data.optimizationHistory].reverse();
    expect(entries[0]).toMatchObject({
      outcome: 'DRY_RUN',
      dryRun: true,
      actor: 'admin',
      executed: [],
      statements: o.statements,
    });
    expect(entries[1]).toMatchObject({
      outcome: 'APPLIED',
      dryRun: false,
      kind: 'ANALYZE_TABLE',
      executed: o.statements,
      error: null,
    });
    expect(entries[1].before.last_analyzed).toBeNull();
    expect(entries[1].after.last_analyzed).not.toBeNull();
    expect(entries.at(-1)).toMatchObject({ outcome: 'ALREADY_APPLIED', executed: [] });
    expect(entries.some((e: any) => e.actor === 'viewer')).toBe(false); // refused before reaching the optimizer
    for (const e of entries) expect(new Date(e.finishedAt) >= new Date(e.startedAt)).toBe(true);

    const all = await pp.gql<any>(HISTORY, {}, VIEWER);
    expect(all.data.optimizationHistory[0]).toMatchObject({
      optimizationId: 'analyze-table-ffffffffffff',
      outcome: 'NOT_FOUND',
    });
    const rows = await run(
      db.adminUrl(primaryUrl),
      'SELECT count(*)::int AS n FROM poolpilot.optimization_audit',
    );
    expect(rows.rows[0].n).toBe(all.data.optimizationHistory.length);
  });
});

describe('audit trail when the primary is down at start-up', () => {
  let cluster: EmbeddedCluster;
  let pp: RunningPoolpilot | null = null;

  beforeAll(async () => {
    cluster = await startEmbeddedCluster({ replica: false });
  });
  afterAll(async () => {
    await pp?.close();
    await cluster?.stop();
  });

  it('starts anyway and migrates once the primary comes up', async () => {
    await cluster.primary.stop();
    pp = await startPoolpilot({
      DATABASE_URL: cluster.primaryUrl,
      HEALTH_CHECK_INTERVAL_MS: '200',
      DB_CONN_TIMEOUT: '1000',
    });
    expect(pp.poolpilot.audit.migrator.state.version).toBe(0);
    const history = await pp.gql<any>('{ optimizationHistory { id } }');
    expect(history.errors?.[0]?.extensions?.code).toBe('DB_UNAVAILABLE');

    await cluster.primary.start();
    await eventually(() => pp!.poolpilot.audit.migrator.done, 30_000);
    const versions = await run(cluster.primaryUrl, 'SELECT version FROM poolpilot.schema_migrations');
    expect(versions.rows).toEqual([{ version: 1 }]);
    const after = await pp.gql<any>('{ optimizationHistory { id } }');
    expect(after.errors).toBeUndefined();
    expect(after.data.optimizationHistory).toEqual([]);
  });
});
