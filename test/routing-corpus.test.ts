import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { OWN_MARK } from '../src/core/application-name.js';
import type { ExecuteResult } from '../src/core/session/index.js';
import { createTestDatabase, run, type TestDatabase } from './harness/database.js';
import { type RunningPoolpilot, startPoolpilot } from './harness/server.js';
import { createShop, GUIDE_QUERY } from './support/shop.js';

const { primaryUrl, replicaUrl } = inject('databases');

type Where = 'primary' | 'replica';
interface Case {
  sql: string;
  params?: unknown[];
  where: Where;
  route?: 'FAST' | 'MEDIUM' | 'COMPLEX';
  /** Expected error code (the statement still has to reach `where`). */
  error?: string;
}

const standby = 'pg_is_in_recovery() AS standby';

/**
 * Every statement carries a unique tag comment; where it ran is then read from each server's own
 * pg_stat_statements (and, where the statement can say so, from pg_is_in_recovery() in its result).
 */
const CORPUS: Case[] = [
  // writes and locks: always the primary
  { sql: `INSERT INTO notes (body) VALUES ('corpus') RETURNING ${standby}`, where: 'primary' },
  { sql: `UPDATE notes SET body = 'updated' WHERE id = 1 RETURNING ${standby}`, where: 'primary' },
  { sql: `DELETE FROM notes WHERE id = -1 RETURNING ${standby}`, where: 'primary' },
  {
    sql: `INSERT INTO notes (body) SELECT label FROM items WHERE id < 3 RETURNING id, ${standby}`,
    where: 'primary',
  },
  {
    sql: "MERGE INTO notes n USING (SELECT 1 AS id) s ON n.id = s.id WHEN MATCHED THEN UPDATE SET body = 'merged'",
    where: 'primary',
  },
  { sql: 'CREATE TABLE scratch_a (id int)', where: 'primary' },
  { sql: 'ALTER TABLE scratch_a ADD COLUMN note text', where: 'primary' },
  { sql: 'CREATE INDEX scratch_a_id ON scratch_a (id)', where: 'primary' },
  { sql: 'TRUNCATE scratch_a', where: 'primary' },
  { sql: 'DROP TABLE scratch_b', where: 'primary' },
  { sql: "COMMENT ON TABLE items IS 'corpus'", where: 'primary' },
  { sql: 'GRANT SELECT ON items TO PUBLIC', where: 'primary' },
  { sql: 'REFRESH MATERIALIZED VIEW item_labels', where: 'primary' },
  { sql: 'VACUUM items', where: 'primary' },
  { sql: `SELECT id, ${standby} FROM items WHERE id = 1 FOR UPDATE`, where: 'primary' },
  { sql: `SELECT id, label, ${standby} FROM items WHERE id = 2 FOR NO KEY UPDATE`, where: 'primary' },
  { sql: `SELECT label, ${standby} FROM items WHERE id = 3 FOR SHARE`, where: 'primary' },
  { sql: `SELECT id, ${standby}, 1 AS k FROM items WHERE id = 4 FOR KEY SHARE`, where: 'primary' },
  {
    sql: `WITH gone AS (DELETE FROM notes WHERE id = -2 RETURNING id) SELECT count(*) AS n, ${standby} FROM gone`,
    where: 'primary',
  },
  {
    sql: `WITH added AS (INSERT INTO notes (body) VALUES ('cte') RETURNING id) SELECT id, ${standby} FROM added`,
    where: 'primary',
  },
  { sql: `SELECT nextval('ticket_seq') AS n, ${standby}`, where: 'primary' },
  { sql: `SELECT setval('ticket_seq', 100) AS n, ${standby}`, where: 'primary' },
  { sql: `SELECT pg_advisory_xact_lock(42) AS l, ${standby}`, where: 'primary' },
  {
    sql: `SELECT pg_try_advisory_lock(43) AS got, pg_advisory_unlock(43) AS released, ${standby}`,
    where: 'primary',
  },
  { sql: `SELECT set_config('application_name', 'corpus', false) AS v, ${standby}`, where: 'primary' },
  { sql: `SELECT bump() AS b, ${standby}`, where: 'primary' },
  // Reading a server file needs pg_read_server_files, which the data role does not have: refused, on the primary.
  { sql: "COPY scratch_c FROM '/dev/null'", where: 'primary', error: 'BAD_SQL' },
  { sql: 'CALL touch_notes()', where: 'primary' },
  { sql: 'DO $$ BEGIN PERFORM 1; END $$', where: 'primary' },
  { sql: 'LISTEN corpus_channel', where: 'primary' },
  { sql: "NOTIFY corpus_channel, 'hello'", where: 'primary' },
  { sql: 'SELECT id, label INTO scratch_into FROM items WHERE id < 5', where: 'primary' },
  { sql: 'CREATE TEMP TABLE tmp_corpus (id int)', where: 'primary' },
  { sql: "SET work_mem = '8MB'", where: 'primary' },
  // statements that do not parse: the primary reports the error
  { sql: 'SELEC 1', where: 'primary', error: 'BAD_SQL' },
  { sql: 'SELECT * FROM users WHERE', where: 'primary', error: 'BAD_SQL' },
  // the override comment
  {
    sql: `/* poolpilot:primary */ SELECT count(*) AS n, ${standby} FROM orders`,
    where: 'primary',
    route: 'MEDIUM',
  },
  {
    sql: `/* poolpilot:primary */ SELECT u.id, sum(o.total) AS s, ${standby} FROM users u JOIN orders o ON o.user_id = u.id GROUP BY u.id ORDER BY s DESC`,
    where: 'primary',
    route: 'COMPLEX',
  },
  // fast reads: the primary
  { sql: `SELECT 1 AS one, ${standby}`, where: 'primary', route: 'FAST' },
  { sql: `SELECT label, ${standby} FROM items WHERE id = $1`, params: [5], where: 'primary', route: 'FAST' },
  { sql: `SELECT name, email, ${standby} FROM users WHERE id = 10`, where: 'primary', route: 'FAST' },
  { sql: `SELECT now() AS t, lower('X') AS x, ${standby}`, where: 'primary', route: 'FAST' },
  { sql: 'SHOW work_mem', where: 'primary', route: 'FAST' },
  // medium reads: the replica
  { sql: `SELECT count(*) AS n, ${standby} FROM orders`, where: 'replica', route: 'MEDIUM' },
  { sql: `SELECT id, total, ${standby} FROM orders WHERE user_id = 42`, where: 'replica', route: 'MEDIUM' },
  {
    sql: `SELECT max(total) AS hi, min(total) AS lo, ${standby} FROM orders`,
    where: 'replica',
    route: 'MEDIUM',
  },
  { sql: `SELECT id, ${standby} FROM orders WHERE note LIKE '%if%'`, where: 'replica', route: 'MEDIUM' },
  {
    sql: `SELECT id, total, ${standby} FROM orders WHERE user_id = $1`,
    params: [7],
    where: 'replica',
    route: 'MEDIUM',
  },
  // complex reads: the queue, then the replica
  {
    sql: `SELECT u.id, u.name, sum(o.total) AS spent, ${standby} FROM users u JOIN orders o ON o.user_id = u.id GROUP BY u.id ORDER BY spent DESC`,
    where: 'replica',
    route: 'COMPLEX',
  },
  {
    sql: `SELECT id, user_id, rank() OVER (PARTITION BY user_id ORDER BY total DESC) AS r, ${standby} FROM orders ORDER BY total DESC`,
    where: 'replica',
    route: 'COMPLEX',
  },
  {
    sql: `SELECT DISTINCT o.user_id, ${standby} FROM orders o JOIN users u ON u.id = o.user_id WHERE u.email LIKE '%7@example.com' AND o.id IN (SELECT id FROM orders WHERE total > 300)`,
    where: 'replica',
    route: 'COMPLEX',
  },
  { sql: GUIDE_QUERY, where: 'replica', route: 'COMPLEX', error: 'BAD_SQL' },
];

describe('routing corpus: where each statement actually ran', () => {
  let pp: RunningPoolpilot;
  let db: TestDatabase;
  const results: (ExecuteResult | { error: { code: string; details: Record<string, unknown> } })[] = [];
  const ran: Record<Where, string[]> = { primary: [], replica: [] };

  beforeAll(async () => {
    if (!replicaUrl) throw new Error('the routing corpus needs a replica');
    db = await createTestDatabase(primaryUrl, replicaUrl, 'pp_corpus');
    const url = db.url(primaryUrl);
    await createShop(url, null);
    await run(
      url,
      `CREATE TABLE scratch_b (id int); CREATE TABLE scratch_c (id int);
       CREATE MATERIALIZED VIEW item_labels AS SELECT label FROM items;
       INSERT INTO notes (body) VALUES ('first');`,
    );
    pp = await startPoolpilot({
      DATABASE_URL: url,
      DB_REPLICA_URLS: db.url(replicaUrl),
      DB_POOL_MIN: '1',
      DB_POOL_SIZE: '4',
      HEALTH_CHECK_INTERVAL_MS: '200',
      DB_REPLICA_MAX_LAG_MS: '60000',
      READ_YOUR_WRITES_WINDOW_MS: '0', // read-your-writes has its own test; here, the class rules alone
    });
    // Wait for the replica to have replayed the fixture before reads are expected there.
    await waitForReplay(url, db.url(replicaUrl));
    for (const [i, c] of CORPUS.entries()) {
      const sql = `/* corpus-${i} */ ${c.sql}`;
      try {
        results.push(await pp.poolpilot.execute(sql, c.params ?? [], { maxRows: 5 }));
      } catch (error) {
        results.push({ error: error as any });
      }
    }
    // The analyzer's EXPLAIN runs on the primary by design (marked as poolpilot's own): it is not
    // the statement running.
    const statementsOf = async (base: string) =>
      (
        await run(
          base,
          'SELECT s.query FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1 AND s.query NOT LIKE $2',
          [db.name, `${OWN_MARK}%`],
        )
      ).rows.map((r) => r.query as string);
    ran.primary = await statementsOf(primaryUrl);
    ran.replica = await statementsOf(replicaUrl);
  });
  afterAll(async () => {
    await pp?.close();
    await db?.drop();
  });

  it('has at least 40 statements', () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(40);
  });

  it.each(CORPUS.map((c, i) => [i, c] as const))('statement %i runs where its class says', (i, c) => {
    const result = results[i]!;
    const tag = `/* corpus-${i} */`;
    if ('error' in result) {
      expect(result.error.code, `${c.sql}: ${(result.error as any).message}`).toBe(c.error);
      const target = String(result.error.details.target);
      expect(c.where === 'primary' ? target === 'primary' : target.startsWith('replica')).toBe(true);
      if (c.error === 'BAD_SQL') expect(result.error.details.sqlstate).toMatch(/^42/);
      return;
    }
    expect(c.error, `${c.sql} should have failed`).toBeUndefined();
    expect(result.target.startsWith(c.where), `${c.sql}: ran on ${result.target} (${result.reason})`).toBe(
      true,
    );
    if (c.route) expect(result.route, c.sql).toBe(c.route);
    expect(result.queued).toBe(result.route === 'COMPLEX' && c.where === 'replica' ? true : result.queued);
    // Evidence from the servers themselves.
    const other: Where = c.where === 'primary' ? 'replica' : 'primary';
    expect(
      ran[c.where].some((q) => q.includes(tag)),
      `${tag} in ${c.where}'s pg_stat_statements`,
    ).toBe(true);
    expect(
      ran[other].some((q) => q.includes(tag)),
      `${tag} not in ${other}'s pg_stat_statements`,
    ).toBe(false);
    for (const row of result.rows) if ('standby' in row) expect(row.standby).toBe(c.where === 'replica');
  });
});

async function waitForReplay(primary: string, replica: string): Promise<void> {
  const { rows } = await run(primary, 'SELECT pg_current_wal_insert_lsn()::text AS lsn');
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const r = await run(replica, 'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done', [rows[0].lsn]);
    if (r.rows[0].done) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the replica did not replay the fixture');
}
