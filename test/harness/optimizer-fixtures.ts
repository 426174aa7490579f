import pg from 'pg';
import { run } from './database.js';

/**
 * Data with the problems the optimizer looks for: a 150k-row `events` table filtered on a
 * selective column nobody indexed, and a 100k-row `audit_log` whose statistics are stale
 * (autovacuum off for it, never analyzed).
 */
export async function createProblemTables(url: string, adminUrl: string): Promise<void> {
  // Not a trusted extension: the superuser creates it; the tables belong to the data role.
  await run(adminUrl, 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  await run(
    url,
    `CREATE TABLE events (id bigint PRIMARY KEY, account_id int NOT NULL, kind text NOT NULL,
                          created_at timestamptz NOT NULL, payload text);
     INSERT INTO events SELECT g, g % 20000, (ARRAY['click','view','buy'])[1 + g % 3],
                               now() - g * interval '1 second', md5(g::text)
     FROM generate_series(1, 150000) g;
     CREATE TABLE audit_log (id bigint, actor text, at timestamptz) WITH (autovacuum_enabled = false);
     INSERT INTO audit_log SELECT g, 'user' || (g % 100), now() FROM generate_series(1, 100000) g;`,
  );
  // Its own transaction: ANALYZE in the same one as the INSERT would count the rows as changed since.
  await run(url, 'ANALYZE events');
}

/** The slow statement: a sequential scan of `events` for a handful of rows, run `times` times. */
export async function runSlowLookups(url: string, times: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (let i = 0; i < times; i++)
      await client.query('SELECT id, kind FROM events WHERE account_id = $1', [i]);
  } finally {
    await client.end();
  }
}

/** A session that opens a transaction and then sits idle in it, until `close()`. */
export async function idleInTransaction(
  url: string,
  applicationName = 'report-job',
): Promise<{ pid: number; close: () => Promise<void> }> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  client.on('error', () => undefined);
  await client.connect();
  await client.query('BEGIN');
  const { rows } = await client.query('SELECT pg_backend_pid() AS pid, count(*) FROM audit_log');
  return { pid: rows[0].pid, close: () => client.end().catch(() => undefined) };
}
