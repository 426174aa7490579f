import { describe, expect, it } from 'vitest';
import { type ProcessResult, psql, runClient, useWire } from './harness/wire.js';

/**
 * psql and pgbench (Debian's postgresql-client) through the wire front, on a primary + replica
 * with routing on: pgbench's own invariants must hold afterwards and nothing may fail.
 */
describe('wire front: psql and pgbench', () => {
  const wire = useWire({ DB_POOL_SIZE: '5', DB_POOL_MIN: '1' }, { replica: true, prefix: 'pp_wbench' });

  const pgbench = (args: string[]) => runClient('pgbench', args, wire.front.libpqEnv, 90_000);

  /** "number of transactions actually processed" and "number of failed transactions" of a run. */
  function outcome(r: ProcessResult) {
    const processed = /number of transactions actually processed: (\d+)/.exec(r.stdout);
    const failed = /number of failed transactions: (\d+)/.exec(r.stdout);
    return {
      code: r.code,
      processed: processed ? Number(processed[1]) : null,
      failed: failed ? Number(failed[1]) : null,
      aborted: /aborted|error/i.test(r.stderr) ? r.stderr : '',
    };
  }

  it('answers psql, with the same results as PostgreSQL itself', async () => {
    const script = [
      'CREATE TABLE psql_check (id int PRIMARY KEY, label text, at timestamptz, amount numeric(12,2))',
      "INSERT INTO psql_check SELECT g, 'row ' || g, '2026-01-01T00:00:00Z'::timestamptz + g * interval '1 hour', g * 1.25 FROM generate_series(1, 500) g",
    ];
    const made = await psql(wire.front.libpqEnv, ...script);
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    const queries = [
      'SELECT count(*), sum(amount), min(at), max(label) FROM psql_check',
      'SELECT id, label, amount FROM psql_check WHERE id % 97 = 0 ORDER BY id',
      'SHOW server_version_num',
    ];
    const through = await psql(wire.front.libpqEnv, ...queries);
    const direct = await psql(wire.front.directEnv, ...queries);
    expect(through.stderr).toBe('');
    expect(through.code).toBe(0);
    expect(through.stdout).toBe(direct.stdout);
    expect(through.stdout).toContain('500|156562.50|');

    // An error comes back as PostgreSQL words it, with psql's non-zero exit.
    const failing = await psql(wire.front.libpqEnv, 'SELECT * FROM no_such_table');
    expect(failing.code).not.toBe(0);
    expect(failing.stderr).toMatch(/relation "no_such_table" does not exist/);
  });

  it('initialises with pgbench -i, then runs -S and TPC-B in simple and extended mode, and -C, with 0 failed', async () => {
    const init = await pgbench(['-i', '-s', '1', '-q']);
    expect(init.stderr).toMatch(/done in/);
    expect(init.code).toBe(0);

    const runs: [string, string[]][] = [
      ['-S simple', ['-S', '-M', 'simple']],
      ['-S extended', ['-S', '-M', 'extended']],
      ['TPC-B simple', ['-M', 'simple']],
      ['TPC-B extended', ['-M', 'extended']],
      ['-C -S', ['-C', '-S', '-M', 'simple']],
      ['-C TPC-B', ['-C', '-M', 'extended']],
    ];
    for (const [name, args] of runs) {
      const r = await pgbench([...args, '-c', '4', '-j', '1', '-T', '2', '-n']);
      const o = outcome(r);
      expect({ name, ...o }).toMatchObject({ name, code: 0, failed: 0, aborted: '' });
      expect(o.processed, name).toBeGreaterThan(0);
    }
  });

  it('keeps pgbench invariants after a fixed-length TPC-B run, and counts exactly the transactions it ran', async () => {
    const env = wire.front.directEnv;
    const before = await psql(env, 'SELECT count(*) FROM pgbench_history');
    const r = await pgbench(['-M', 'extended', '-c', '4', '-j', '1', '-t', '50', '-n']);
    expect(outcome(r)).toMatchObject({ code: 0, failed: 0, processed: 200, aborted: '' });
    const after = await psql(env, 'SELECT count(*) FROM pgbench_history');
    expect(Number(after.stdout) - Number(before.stdout)).toBe(200);

    const sums = [
      'SELECT sum(abalance) FROM pgbench_accounts',
      'SELECT sum(bbalance) FROM pgbench_branches',
      'SELECT sum(tbalance) FROM pgbench_tellers',
      'SELECT sum(delta) FROM pgbench_history',
    ];
    // Read directly on the primary and through the front: the same four equal numbers.
    const direct = (await psql(env, ...sums)).stdout.trim().split('\n');
    const through = (await psql(wire.front.libpqEnv, ...sums)).stdout.trim().split('\n');
    expect(direct).toHaveLength(4);
    expect(new Set(direct).size).toBe(1);
    expect(through).toEqual(direct);
  });
});
