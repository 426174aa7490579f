import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type ProcessResult, runClient, useWire } from './harness/wire.js';

/** Debian's pg_regress (postgresql-client-15); psql 15 from /usr/bin runs the files. */
const PG_REGRESS = '/usr/lib/postgresql/15/lib/pgxs/src/test/regress/pg_regress';
const SUITE = join(import.meta.dirname, 'fixtures', 'regress');

/**
 * pg_regress through the front: the suite's golden outputs are made at test time by running the
 * schedule directly against PostgreSQL, then the same schedule runs through the front and must
 * give byte-identical outputs (pg_regress's own diff). Errors inside transactions, temporary
 * tables, notices, COPY and SQL PREPARE in a transaction; the same database, the primary's
 * replica beside it.
 */
describe('wire front: pg_regress replayed through the front', () => {
  const wire = useWire({ DB_POOL_SIZE: '3', DB_POOL_MIN: '1' }, { replica: true, prefix: 'pp_wregress' });
  let work: string | null = null;
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** One pg_regress run of the schedule over `inputdir`, connecting with `env` (libpq's variables). */
  function pgRegress(
    env: Record<string, string>,
    inputdir: string,
    outputdir: string,
  ): Promise<ProcessResult> {
    return runClient(
      PG_REGRESS,
      [
        '--use-existing', // the database exists: pg_regress neither creates nor drops it
        '--bindir=/usr/bin',
        `--host=${env.PGHOST}`,
        `--port=${env.PGPORT}`,
        `--user=${env.PGUSER}`,
        `--dbname=${env.PGDATABASE}`,
        `--inputdir=${inputdir}`,
        `--outputdir=${outputdir}`,
        `--schedule=${join(SUITE, 'schedule')}`,
      ],
      { ...env, PGSSLMODE: 'disable' },
      120_000,
    );
  }

  it('gives the same output for every test as PostgreSQL itself', async () => {
    work = await mkdtemp(join(tmpdir(), 'pp-regress-'));
    const tests = (await readdir(join(SUITE, 'sql'))).map((f) => f.replace(/\.sql$/, '')).sort();
    expect(tests.length).toBeGreaterThanOrEqual(5);

    // Golden run, directly: no expected output yet, so pg_regress reports every test as failed
    // (exit 1); what counts is the output psql wrote for each.
    const goldenIn = join(work, 'golden-in');
    await mkdir(join(goldenIn, 'expected'), { recursive: true });
    await cp(join(SUITE, 'sql'), join(goldenIn, 'sql'), { recursive: true });
    // Empty expected files: pg_regress stops at a missing one, and diffs against an empty one.
    for (const t of tests) await writeFile(join(goldenIn, 'expected', `${t}.out`), '');
    const golden = await pgRegress(wire.front.directEnv, goldenIn, join(work, 'golden'));
    expect([0, 1], golden.stdout + golden.stderr).toContain(golden.code);
    const replay = join(work, 'replay-in');
    await cp(join(goldenIn, 'sql'), join(replay, 'sql'), { recursive: true });
    await mkdir(join(replay, 'expected'));
    for (const t of tests) {
      const out = await readFile(join(work, 'golden', 'results', `${t}.out`), 'utf8');
      // The golden output holds what the suite exercises (a broken connection would not).
      expect(out).toContain('ROLLBACK');
      await cp(join(work, 'golden', 'results', `${t}.out`), join(replay, 'expected', `${t}.out`));
    }
    const goldenText = (t: string) => readFile(join(replay, 'expected', `${t}.out`), 'utf8');
    expect(await goldenText('notices')).toContain('NOTICE:  step 3 of 3');
    expect(await goldenText('errors_in_transactions')).toContain(
      'ERROR:  current transaction is aborted, commands ignored until end of transaction block',
    );
    expect(await goldenText('copy')).toContain('ERROR:  invalid input syntax for type numeric: "x"');

    // Replay through the front: pg_regress compares with its own diff.
    const through = await pgRegress(wire.front.libpqEnv, replay, join(work, 'through'));
    const diffs = await readFile(join(work, 'through', 'regression.diffs'), 'utf8').catch(() => '');
    expect(diffs).toBe('');
    expect(through.stdout).toMatch(new RegExp(`All ${tests.length} tests passed`));
    expect(through.code).toBe(0);
  });
});
