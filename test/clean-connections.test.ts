import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Lease } from '../src/core/pool/index.js';
import { createTestDatabase, run, type TestDatabase } from './harness/database.js';
import { type RunningPoolpilot, startPoolpilot } from './harness/server.js';

const { primaryUrl } = inject('databases');
const POOL_SIZE = 3;

/** Everything a session can carry over, read on one connection. */
const SESSION_STATE = `SELECT current_setting('search_path') AS search_path,
  current_setting('application_name') AS application_name,
  current_setting('TimeZone') AS timezone,
  current_setting('default_transaction_read_only') AS read_only,
  current_setting('standard_conforming_strings') AS scs,
  current_setting('statement_timeout') AS statement_timeout,
  (SELECT count(*)::int FROM pg_class WHERE relnamespace = pg_my_temp_schema()) AS temp_tables,
  (SELECT count(*)::int FROM pg_listening_channels()) AS listening,
  (SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS advisory_locks,
  (SELECT count(*)::int FROM pg_prepared_statements) AS prepared,
  (SELECT count(*)::int FROM pg_cursors) AS cursors`;

describe('clean connections: no caller sees another caller’s session state', () => {
  let pp: RunningPoolpilot;
  let db: TestDatabase;
  let baseline: Record<string, unknown>;

  /** Holds every connection of the primary's pool at once and reads each one's session state. */
  const sweep = async () => {
    const pool = pp.poolpilot.cluster.primary.pool;
    const leases: Lease[] = await Promise.all(Array.from({ length: POOL_SIZE }, () => pool.acquire()));
    try {
      return await Promise.all(leases.map(async (l) => (await l.query(SESSION_STATE)).rows[0]!));
    } finally {
      for (const l of leases) l.release();
    }
  };

  beforeAll(async () => {
    db = await createTestDatabase(primaryUrl, null, 'pp_clean');
    await run(
      db.url(primaryUrl),
      `CREATE FUNCTION sneaky() RETURNS int LANGUAGE plpgsql AS $$
         BEGIN PERFORM set_config('search_path', 'pg_temp, public', false); RETURN 1; END $$;
       CREATE TABLE t (id int);`,
    );
    pp = await startPoolpilot({
      DATABASE_URL: db.url(primaryUrl),
      DB_POOL_MIN: String(POOL_SIZE),
      DB_POOL_SIZE: String(POOL_SIZE),
    });
    baseline = (await sweep())[0]!;
  });
  afterAll(async () => {
    await pp?.close();
    await db?.drop();
  });

  const changes: [string, string[]][] = [
    ['SET', ['SET search_path = pg_catalog']],
    ['SET TimeZone', ["SET TimeZone = 'Asia/Tokyo'"]],
    ['set_config()', ["SELECT set_config('application_name', 'intruder', false)"]],
    ['a function', ['SELECT sneaky()']],
    ['a DO block', ["DO $$ BEGIN PERFORM set_config('statement_timeout', '1234', false); END $$"]],
    ['CREATE TEMP TABLE … AS', ['CREATE TEMP TABLE tmp1 AS SELECT 1 AS x']],
    ['SELECT INTO TEMP', ['SELECT 1 AS x INTO TEMP tmp2']],
    ['LISTEN', ['LISTEN somewhere']],
    ['an advisory lock', ['SELECT pg_advisory_lock(42)']],
    ['PREPARE', ['PREPARE p AS SELECT 1']],
    ['default_transaction_read_only', ['SET default_transaction_read_only = on']],
    ['standard_conforming_strings', ['SET standard_conforming_strings = off']],
    ['a WITH HOLD cursor', ['DECLARE c CURSOR WITH HOLD FOR SELECT 1']],
  ];

  for (const [name, statements] of changes) {
    it(`${name} through executeTransaction leaves no trace`, async () => {
      // A write beside the state change, as applications mix them.
      await pp.poolpilot.transaction([
        { sql: 'INSERT INTO t VALUES (1)' },
        ...statements.map((sql) => ({ sql })),
      ]);
      for (const state of await sweep()) expect(state).toEqual(baseline);
    });
    if (name !== 'a WITH HOLD cursor') {
      it(`${name} through executeQuery leaves no trace`, async () => {
        for (const sql of statements) await pp.poolpilot.execute(sql);
        for (const state of await sweep()) expect(state).toEqual(baseline);
      });
    }
  }

  it('a SET per call does not churn the pool: connections are reset, not replaced', async () => {
    const before = pp.poolpilot.cluster.primary.pool.state();
    for (let i = 0; i < 300; i++) {
      await pp.poolpilot.transaction([{ sql: `SET statement_timeout = ${1000 + i}` }, { sql: 'SELECT 1' }]);
    }
    const after = pp.poolpilot.cluster.primary.pool.state();
    expect(after.connectionsOpened - before.connectionsOpened).toBe(0);
    expect(after.resets - before.resets).toBeGreaterThanOrEqual(300);
    for (const state of await sweep()) expect(state).toEqual(baseline);
  });
});
