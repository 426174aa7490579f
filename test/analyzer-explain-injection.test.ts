import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, run, type TestDatabase } from './harness/database.js';
import { type RunningPoolpilot, startPoolpilot } from './harness/server.js';

const { primaryUrl } = inject('databases');

/**
 * libpg_query reads strings with standard_conforming_strings on: `'x\'` ends at its second quote.
 * A server session with it off reads `\'` as an escaped quote, so the same text splits in two
 * there, and the second half (COMMIT; INSERT ...) would run if the EXPLAIN went as a simple query.
 */
const SPLITS = "SELECT 'x\\' AS a, '; COMMIT; INSERT INTO victims VALUES (1); --' AS b";
const SPLITS_WITH_PARAM =
  "SELECT 'x\\' AS a, '; COMMIT; INSERT INTO victims VALUES (2); --' AS b FROM victims WHERE id = $1";

describe('SQL through the analyzer’s EXPLAIN', () => {
  let pp: RunningPoolpilot;
  let db: TestDatabase;
  let url: string;

  beforeAll(async () => {
    db = await createTestDatabase(primaryUrl, null, 'pp_explain');
    url = db.url(primaryUrl);
    await run(url, 'CREATE TABLE victims (id int)');
    // Every new session of this database reads strings the old way, as a DBA's setting can make it.
    await run(url, `ALTER DATABASE ${db.name} SET standard_conforming_strings = off`);
    pp = await startPoolpilot({ DATABASE_URL: url, DB_POOL_MIN: '1', DB_POOL_SIZE: '2' });
  });
  afterAll(async () => {
    await pp?.close();
    await db?.drop();
  });

  const victims = async () => Number((await run(url, 'SELECT count(*) AS n FROM victims')).rows[0]!.n);

  it('plans a text the parser read as one statement as exactly that one statement', async () => {
    const a = await pp.gql<{
      analyzeQuery: { statementKinds: string[]; planned: boolean; note: string | null };
    }>('mutation($sql: String!) { analyzeQuery(sql: $sql) { statementKinds planned note planError } }', {
      sql: SPLITS,
    });
    expect(a.errors).toBeUndefined();
    expect(await victims()).toBe(0);
    expect(a.data!.analyzeQuery.statementKinds).toEqual(['SELECT']);
    // Planned as the parser read it (lexical settings fixed in the planning transaction).
    expect(a.data!.analyzeQuery.planned).toBe(true);
  });

  it('does the same for a generic plan, which cannot take the extended protocol', async () => {
    const a = await pp.poolpilot.analyzer.analyze(SPLITS_WITH_PARAM);
    expect(await victims()).toBe(0);
    expect(a.features.params).toBe(1);
    expect(a.statementCount).toBe(1);
    expect(a.planned).toBe(true);
    expect(await victims()).toBe(0);
  });

  it('never sends a text whose parse shows several statements', async () => {
    const a = await pp.poolpilot.analyzer.analyze('SELECT 1; INSERT INTO victims VALUES (3)');
    expect(a.statementCount).toBe(2);
    expect(a.planned).toBe(false);
    expect(a.note).toMatch(/several statements/);
    expect(await victims()).toBe(0);
  });

  it('leaves the planning connection as it found it', async () => {
    await pp.poolpilot.analyzer.analyze("SELECT 'planning leaves nothing behind' FROM victims");
    const { rows } = await pp.poolpilot.cluster.primary.pool.query('SHOW standard_conforming_strings');
    expect(rows[0]!.standard_conforming_strings).toBe('off');
  });
});
