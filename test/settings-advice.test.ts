import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedCluster, startEmbeddedCluster } from '../support/postgres-cluster.js';
import { run } from './harness/database.js';
import { type RunningPoolpilot, startPoolpilot } from './harness/server.js';

// ALTER SYSTEM changes the whole server: a private one, so other test files never see it.
describe('settings and SETTING_CHANGE', () => {
  let cluster: EmbeddedCluster;
  let pp: RunningPoolpilot;

  beforeAll(async () => {
    cluster = await startEmbeddedCluster({ replica: false });
    pp = await startPoolpilot({
      DATABASE_URL: cluster.primaryUrl,
      DB_SERVER_MEMORY_MB: '4096',
      DB_SERVER_CPUS: '2',
      DB_POOL_SIZE: '20',
    });
  });
  afterAll(async () => {
    await pp?.close();
    await cluster?.stop();
  });

  const settings = async () => {
    const res = await pp.gql<any>(`{
      settings {
        server { memoryMb cpus source }
        poolSize { cpus min default max row }
        settings { name current setting unit recommended needsChange reason requiresRestart pendingRestart source }
      }
    }`);
    expect(res.errors).toBeUndefined();
    return res.data.settings;
  };

  it("recommends PGTune's figures for the configured server size, and the guide's pool size", async () => {
    const s = await settings();
    expect(s.server).toEqual({ memoryMb: 4096, cpus: 2, source: 'config' });
    expect(s.poolSize).toMatchObject({ cpus: 2, min: 3, default: 8, max: 16 });
    const rec = Object.fromEntries(s.settings.map((x: any) => [x.name, x.recommended ?? x.current]));
    // PGTune, web application, Linux, 4 GB, 2 CPUs, 200 connections, SSD.
    expect(rec).toMatchObject({
      shared_buffers: '1GB',
      effective_cache_size: '3GB',
      maintenance_work_mem: '256MB',
      work_mem: '5242kB',
      wal_buffers: '16MB',
      checkpoint_completion_target: '0.9',
      random_page_cost: '1.1',
      effective_io_concurrency: '200',
      min_wal_size: '1GB',
      max_wal_size: '4GB',
      max_worker_processes: '2',
      max_parallel_workers_per_gather: '1',
      max_parallel_workers: '2',
      max_parallel_maintenance_workers: '1',
      log_min_duration_statement: '1000',
    });
    const maxConnections = s.settings.find((x: any) => x.name === 'max_connections');
    expect(maxConnections).toMatchObject({ current: '200', needsChange: false, requiresRestart: true });
    const sharedBuffers = s.settings.find((x: any) => x.name === 'shared_buffers');
    expect(sharedBuffers).toMatchObject({ current: '128MB', needsChange: true, requiresRestart: true });
    expect(sharedBuffers.reason).toMatch(/25% of 4GB/);
  });

  it('applies a reloadable setting with ALTER SYSTEM + reload, and pg_settings shows it', async () => {
    const list = await pp.gql<any>(
      '{ optimizations(kind: SETTING_CHANGE) { id title statements evidence requiresRestart } }',
    );
    const cost = list.data.optimizations.find((o: any) => o.evidence.setting === 'random_page_cost');
    expect(cost.statements).toEqual([
      'ALTER SYSTEM SET "random_page_cost" = \'1.1\'',
      'SELECT pg_reload_conf()',
    ]);
    const dry = await pp.gql<any>(
      'mutation($id: ID!) { applyOptimization(id: $id, dryRun: true) { outcome } }',
      { id: cost.id },
    );
    expect(dry.data.applyOptimization.outcome).toBe('DRY_RUN');
    expect((await run(cluster.primaryUrl, 'SHOW random_page_cost')).rows[0].random_page_cost).toBe('4');

    const res = await pp.gql<any>(
      'mutation($id: ID!) { applyOptimization(id: $id) { outcome executed after message } }',
      { id: cost.id },
    );
    expect(res.data.applyOptimization).toMatchObject({
      outcome: 'APPLIED',
      executed: cost.statements,
      after: { setting: '1.1', pending_restart: false },
    });
    const seen = await run(
      cluster.primaryUrl,
      "SELECT setting, source FROM pg_settings WHERE name = 'random_page_cost'",
    );
    expect(seen.rows[0]).toEqual({ setting: '1.1', source: 'configuration file' });
    const again = await pp.gql<any>('{ optimizations(kind: SETTING_CHANGE) { id } }');
    expect(again.data.optimizations.map((o: any) => o.id)).not.toContain(cost.id);
  });

  it('turns on slow-statement logging', async () => {
    const list = await pp.gql<any>('{ optimizations(kind: SLOW_QUERY_LOGGING) { id statements } }');
    const res = await pp.gql<any>('mutation($id: ID!) { applyOptimization(id: $id) { outcome } }', {
      id: list.data.optimizations[0].id,
    });
    expect(res.data.applyOptimization.outcome).toBe('APPLIED');
    const seen = await run(
      cluster.primaryUrl,
      "SELECT setting FROM pg_settings WHERE name = 'log_min_duration_statement'",
    );
    expect(seen.rows[0].setting).toBe('1000');
  });

  it('marks a restart-only setting pending and never restarts PostgreSQL', async () => {
    const pid = (await run(cluster.primaryUrl, 'SELECT pg_postmaster_start_time()::text AS t')).rows[0].t;
    const list = await pp.gql<any>(
      '{ optimizations(kind: SETTING_CHANGE) { id evidence requiresRestart risk } }',
    );
    const sb = list.data.optimizations.find((o: any) => o.evidence.setting === 'shared_buffers');
    expect(sb).toMatchObject({ requiresRestart: true, risk: 'MEDIUM' });
    const res = await pp.gql<any>(
      'mutation($id: ID!) { applyOptimization(id: $id) { outcome after message } }',
      { id: sb.id },
    );
    expect(res.data.applyOptimization).toMatchObject({
      outcome: 'APPLIED',
      after: { pending_restart: true },
    });
    expect(res.data.applyOptimization.message).toMatch(/pending a restart/);
    expect((await run(cluster.primaryUrl, 'SHOW shared_buffers')).rows[0].shared_buffers).toBe('128MB');
    expect((await run(cluster.primaryUrl, 'SELECT pg_postmaster_start_time()::text AS t')).rows[0].t).toBe(
      pid,
    );
    const s = await settings();
    expect(s.settings.find((x: any) => x.name === 'shared_buffers')).toMatchObject({ pendingRestart: true });
  });
});
