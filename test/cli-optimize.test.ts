import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { poolpilotCli } from './harness/cli.js';
import { useTestServer } from './harness/server.js';

/**
 * Only database-scoped changes are really applied here: the cluster is shared with other test
 * files, so server-wide ones (ALTER SYSTEM) are exercised as dry runs.
 */
describe('poolpilot optimize', () => {
  const server = useTestServer({ DB_POOL_MIN: '1' });

  const list = async () => {
    const run = await poolpilotCli(['optimize', '--json', '--url', server.pp.url]);
    expect(run.code, run.stderr).toBe(0);
    return run.json<
      {
        id: string;
        kind: string;
        risk: string;
        title: string;
        applicable: boolean;
        requiresRestart: boolean;
      }[]
    >();
  };

  it('lists the current suggestions with stable ids, as JSON and as a table', async () => {
    const first = await list();
    expect(first.length).toBeGreaterThan(0);
    for (const o of first)
      expect(o).toMatchObject({
        id: expect.any(String),
        kind: expect.any(String),
        risk: expect.stringMatching(/^(LOW|MEDIUM|HIGH)$/),
      });
    expect((await list()).map((o) => o.id)).toEqual(first.map((o) => o.id));
    const text = await poolpilotCli(['optimize', '--url', server.pp.url]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/│ id +│ kind +│ risk +│ safe +│ title/);
    expect(text.stdout).toContain(first[0]!.id);
  });

  it('--apply-all-safe --dry-run shows every low-risk, restart-free suggestion and changes nothing', async () => {
    const before = await list();
    const safe = before
      .filter((o) => o.risk === 'LOW' && o.applicable && !o.requiresRestart)
      .map((o) => o.id);
    const run = await poolpilotCli([
      'optimize',
      '--apply-all-safe',
      '--dry-run',
      '--json',
      '--url',
      server.pp.url,
    ]);
    expect(run.code, run.stderr).toBe(0);
    const out = run.json();
    expect(out.dryRun).toBe(true);
    expect(out.results.map((r: any) => r.id)).toEqual(safe);
    for (const r of out.results) expect(r.outcome).toBe('DRY_RUN');
    expect((await list()).map((o) => o.id)).toEqual(before.map((o) => o.id));
  });

  it('--apply ID applies one suggestion, which then leaves the list', async () => {
    const target = (await list()).find((o) => o.kind === 'ENABLE_PG_STAT_STATEMENTS');
    expect(target, 'pg_stat_statements is preloaded but not created in a fresh database').toBeDefined();
    const run = await poolpilotCli(['optimize', '--apply', target!.id, '--json', '--url', server.pp.url]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.json().results[0]).toMatchObject({ id: target!.id, outcome: 'APPLIED' });
    const { rows } = await server.pp.poolpilot.cluster.primary.pool.query(
      `SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'pg_stat_statements'`,
    );
    expect(rows[0]!.n).toBe(1);
    expect((await list()).map((o) => o.id)).not.toContain(target!.id);
    // Applying it again changes nothing: the server says it is already done.
    const again = await poolpilotCli(['optimize', '--apply', target!.id, '--json', '--url', server.pp.url]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.json().results[0].outcome).toBe('ALREADY_APPLIED');
  });

  it('--show ID prints a suggestion in full, and --output FILE saves its pgbouncer.ini', async () => {
    const pgbouncer = (await list()).find((o) => o.kind === 'PGBOUNCER_CONFIG');
    expect(pgbouncer).toBeDefined();
    const shown = await poolpilotCli(['optimize', '--show', pgbouncer!.id, '--url', server.pp.url]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('pgbouncer.ini for this setup');
    expect(shown.stdout).toMatch(/^\[databases\]$/m);
    expect(shown.stdout).toMatch(/^pool_mode = transaction$/m);
    const dir = await mkdtemp(path.join(tmpdir(), 'poolpilot-optimize-'));
    try {
      const file = path.join(dir, 'pgbouncer.ini');
      const saved = await poolpilotCli([
        'optimize',
        '--show',
        pgbouncer!.id,
        '--output',
        file,
        '--url',
        server.pp.url,
      ]);
      expect(saved.code, saved.stderr).toBe(0);
      expect(saved.stdout).toContain(`to ${file}`);
      const ini = await readFile(file, 'utf8');
      expect(ini).toMatch(/^\[pgbouncer\]$/m);
      expect(shown.stdout).toContain(ini.trim());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect((await poolpilotCli(['optimize', '--output', 'x.ini', '--url', server.pp.url])).code).toBe(2);
    const unknown = await poolpilotCli([
      'optimize',
      '--show',
      'no-such-id',
      '--json',
      '--url',
      server.pp.url,
    ]);
    expect(unknown.code).toBe(6);
    expect(unknown.json().error.code).toBe('OPTIMIZATION_NOT_FOUND');
  });

  it('rejects --apply with --apply-all-safe (2) and unknown ids (6, OPTIMIZATION_NOT_FOUND)', async () => {
    expect(
      (await poolpilotCli(['optimize', '--apply', 'x', '--apply-all-safe', '--url', server.pp.url])).code,
    ).toBe(2);
    const run = await poolpilotCli(['optimize', '--apply', 'no-such-id', '--json', '--url', server.pp.url]);
    expect(run.code).toBe(6);
    expect(run.json().error.code).toBe('OPTIMIZATION_NOT_FOUND');
  });
});
