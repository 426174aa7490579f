import { beforeAll, describe, expect, inject, it } from 'vitest';
import { poolpilotCli } from './harness/cli.js';
import { startPoolpilot, useTestServer } from './harness/server.js';

const { replicaUrl } = inject('databases');

describe('poolpilot analyze and report against a running server', () => {
  const server = useTestServer(
    {
      DB_POOL_MIN: '1',
      DB_POOL_SIZE: '4',
      DB_SERVER_CPUS: '2',
    },
    { replica: true },
  );
  beforeAll(async () => {
    for (let i = 0; i < 5; i++) await server.pp.poolpilot.cluster.primary.pool.query('SELECT pg_sleep(0.02)');
  });

  it('analyze --json gives the pools, health, CPU and connection states the server reports', async () => {
    const run = await poolpilotCli(['analyze', '--json', '--url', server.pp.url]);
    expect(run.code, run.stderr).toBe(0);
    const out = run.json();
    expect(out.health.status).toBe('OK');
    const primary = out.poolStats.targets.find((t: any) => t.name === 'primary');
    expect(primary).toMatchObject({ role: 'PRIMARY', up: true, max: 4 });
    expect(primary.queries).toBeGreaterThanOrEqual(5);
    // The same figure the server itself holds.
    expect(primary.queries).toBeLessThanOrEqual(server.pp.poolpilot.poolState().targets[0]!.pool.queries);
    if (replicaUrl) expect(out.poolStats.targets.map((t: any) => t.name)).toContain('replica-1');
    expect(out.cpu.loadAverage).toHaveLength(3);
    expect(out.connectionStates.total).toBeGreaterThanOrEqual(1);
    expect(out.connectionStates.target).toBe('primary');
    // Every section is either present or listed as unavailable with the reason.
    const missing = out.unavailable.map((u: any) => u.section);
    expect(out.slowQueries === null).toBe(missing.includes('slowQueries'));
  });

  it('analyze prints a readable summary', async () => {
    const run = await poolpilotCli(['analyze', '--url', server.pp.url]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/poolpilot \d+\.\d+\.\d+ +status OK/);
    expect(run.stdout).toMatch(/Pools[\s\S]*primary/);
    expect(run.stdout).toMatch(/Connections on primary\n\d+ total/);
    expect(run.stdout).toMatch(/host load [\d.]+ [\d.]+ [\d.]+/);
  });

  it('report renders Markdown and JSON with the same figures', async () => {
    const md = await poolpilotCli(['report', '--url', server.pp.url]);
    expect(md.code, md.stderr).toBe(0);
    expect(md.stdout).toMatch(/^# poolpilot report/);
    expect(md.stdout).toContain('## Health: OK');
    expect(md.stdout).toMatch(/## Pools\n\n\| target \| utilization % \|[\s\S]*\| primary \|/);
    // The guide's size for 2 CPUs beside the configured one, and why they differ.
    expect(md.stdout).toContain(
      "Suggested pool per target: min 3, max 16 (default 8), the guide's row for 2 CPUs (Lightweight). Running: min 1, max 4, from DB_POOL_MIN and DB_POOL_SIZE",
    );
    expect(md.stdout).toContain('DB_POOL_MIN=3 DB_POOL_SIZE=16');
    const json = await poolpilotCli(['report', '--format', 'json', '--url', server.pp.url]);
    expect(json.code).toBe(0);
    const report = json.json();
    expect(report.generatedAt).toMatch(/^\d{4}-/);
    expect(report.poolStats.targets[0].name).toBe('primary');
    expect(report.info.name).toBe('poolpilot');
    expect(report.optimizations.length).toBeGreaterThan(0);
    expect(report.settings.settings.length).toBeGreaterThan(0);
    expect(Array.isArray(report.tables)).toBe(true);
    expect(md.stdout).toContain('## Suggestions');
    expect(md.stdout).toContain('## Settings');
    expect(md.stdout).toContain('## Largest tables');
    // Sections the server does not offer are named, not invented.
    for (const u of report.unavailable) {
      expect(report[u.section]).toBeNull();
      expect(md.stdout).toContain(`- ${u.section}: ${u.reason}`);
    }
  });

  it('exits 1 when a target is down (degraded service)', async () => {
    if (!replicaUrl) return;
    const down = await startPoolpilot({
      DATABASE_URL: server.url,
      DB_REPLICA_URLS: 'postgres://nobody:x@127.0.0.1:1/none',
      DB_POOL_MIN: '0',
      DB_CONN_TIMEOUT: '500',
    });
    try {
      const run = await poolpilotCli(['analyze', '--json', '--url', down.url]);
      expect(run.code).toBe(1);
      expect(run.json().health.status).toBe('DEGRADED');
    } finally {
      await down.close();
    }
  });
});
