import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, run, type TestDatabase } from './harness/database.js';
import { type RunningPoolpilot, startPoolpilot } from './harness/server.js';

const { primaryUrl } = inject('databases');

/**
 * The planner folds IMMUTABLE functions called on constants while it plans, whatever they do.
 * evil() is labelled IMMUTABLE and takes a session advisory lock and (through a VOLATILE helper)
 * writes a row naming the session it ran in.
 */
const SETUP = `
CREATE TABLE side_effects (app text, what text);
CREATE FUNCTION record_effect(what text) RETURNS int LANGUAGE plpgsql VOLATILE AS $$
BEGIN INSERT INTO side_effects VALUES (current_setting('application_name'), what); RETURN 1; END $$;
CREATE FUNCTION evil() RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN PERFORM pg_advisory_lock(4242); PERFORM record_effect('evil'); RETURN 1; END $$;
CREATE TABLE items (id int PRIMARY KEY, v int);
INSERT INTO items SELECT g, g % 10 FROM generate_series(1, 1000) g;
ANALYZE items;
CREATE VIEW items_view AS SELECT * FROM items WHERE v = evil();
CREATE TABLE with_default (id int, v int DEFAULT evil());
CREATE FUNCTION public.lower(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT evil()';
`;

describe('side effects at plan time', () => {
  let pp: RunningPoolpilot;
  let db: TestDatabase;
  let url: string;

  beforeAll(async () => {
    db = await createTestDatabase(primaryUrl, null, 'pp_sidefx');
    url = db.url(primaryUrl);
    await run(db.adminUrl(primaryUrl), 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await run(url, SETUP);
    pp = await startPoolpilot({
      DATABASE_URL: url,
      DB_POOL_MIN: '1',
      DB_POOL_SIZE: '3',
      SLOW_QUERY_MIN_CALLS: '5',
      SLOW_QUERY_MIN_MEAN_MS: '0',
    });
  });
  afterAll(async () => {
    await pp?.close();
    await db?.drop();
  });

  /** Rows written and advisory locks held by poolpilot's own sessions (the setup's are not counted). */
  const effects = async () => {
    const written = await run(url, "SELECT count(*)::int AS n FROM side_effects WHERE app LIKE 'poolpilot%'");
    const locks = await run(
      url,
      `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.locktype = 'advisory' AND a.application_name LIKE 'poolpilot%'`,
    );
    return { written: written.rows[0]!.n as number, locks: locks.rows[0]!.n as number };
  };

  it('does not plan a statement calling a user function, IMMUTABLE or not, and says so', async () => {
    const a = await pp.poolpilot.analyzer.analyze('SELECT id FROM items WHERE v = evil()');
    expect(await effects()).toEqual({ written: 0, locks: 0 });
    expect(a.planned).toBe(false);
    expect(a.basis).toBe('table sizes');
    expect(a.note).toMatch(/evil\(\) is not a built-in function/);
    expect(a.tableRows).toMatchObject({ items: 1000 });
  });

  it('does not plan what would reach a user function through a view, a default or an overload', async () => {
    for (const [sql, why] of [
      ['SELECT * FROM items_view', /items_view .*call user functions/],
      ['INSERT INTO with_default (id) VALUES (1)', /with_default .*call user functions/],
      ['SELECT lower(1) FROM items', /share the name of lower\(\)/],
    ] as const) {
      const a = await pp.poolpilot.analyzer.analyze(sql);
      expect(await effects()).toEqual({ written: 0, locks: 0 });
      expect(a.planned).toBe(false);
      expect(a.note).toMatch(why);
    }
    // PostgreSQL's own functions are still planned.
    const plain = await pp.poolpilot.analyzer.analyze('SELECT upper(v::text) FROM items WHERE id = 7');
    expect(plain.planned).toBe(true);
  });

  it('lists optimizations without running a slow statement’s user function', async () => {
    // The slow statement, as a client ran it (its own effects carry its own application_name).
    const client = new pg.Client({ connectionString: url, application_name: 'shop' });
    await client.connect();
    for (let i = 0; i < 6; i++) await client.query('SELECT id FROM items WHERE id = $1 AND v = evil()', [i]);
    await client.end();
    const res = await pp.gql<{ optimizations: { kind: string }[] }>('{ optimizations { kind } }');
    expect(res.errors).toBeUndefined();
    expect(await effects()).toEqual({ written: 0, locks: 0 });
  });
});
