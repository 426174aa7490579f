import { describe, expect, inject, it } from 'vitest';
import { eventually, run } from './harness/database.js';
import { useTestServer } from './harness/server.js';

const { primaryUrl } = inject('databases');

const EXECUTE = `mutation($sql: String!, $params: [JSON], $timeoutMs: Int, $maxRows: Int) {
  executeQuery(sql: $sql, params: $params, timeoutMs: $timeoutMs, maxRows: $maxRows) {
    rows rowCount command truncated durationMs route target queued queueWaitMs reason fields { name dataTypeID }
  }
}`;

describe('executeQuery and executeTransaction over GraphQL', () => {
  const server = useTestServer(
    {
      DB_POOL_MIN: '1',
      DB_POOL_SIZE: '4',
      DB_STATEMENT_TIMEOUT: '20000',
      EXECUTE_MAX_ROWS: '1000',
    },
    {
      replica: true,
      prefix: 'pp_exec',
      seed: async ({ url }) => {
        await run(url, 'CREATE TABLE kv (k text PRIMARY KEY, v int NOT NULL CHECK (v >= 0))');
      },
    },
  );

  const exec = (variables: Record<string, unknown>) => server.pp.gql<any>(EXECUTE, variables);

  it('runs a parameterized statement and says how it was routed', async () => {
    const res = await exec({
      sql: 'SELECT $1::int + 1 AS n, $2::text AS s, pg_is_in_recovery() AS standby',
      params: [41, 'x'],
    });
    expect(res.errors).toBeUndefined();
    expect(res.data.executeQuery).toMatchObject({
      rows: [{ n: 42, s: 'x', standby: false }],
      rowCount: 1,
      command: 'SELECT',
      truncated: false,
      route: 'FAST',
      target: 'primary',
      queued: false,
      queueWaitMs: 0,
      fields: [
        { name: 'n', dataTypeID: 23 },
        { name: 's', dataTypeID: 25 },
        { name: 'standby', dataTypeID: 16 },
      ],
    });
    expect(res.data.executeQuery.durationMs).toBeGreaterThan(0);
  });

  it('caps rows without fetching the rest', async () => {
    const res = await exec({ sql: 'SELECT g FROM generate_series(1, 100000) g', maxRows: 10 });
    expect(res.errors).toBeUndefined();
    expect(res.data.executeQuery.rows).toHaveLength(10);
    expect(res.data.executeQuery.truncated).toBe(true);
    const exact = await exec({ sql: 'SELECT g FROM generate_series(1, 10) g', maxRows: 10 });
    expect(exact.data.executeQuery).toMatchObject({ truncated: false, rowCount: 10 });
  });

  it('reports affected rows of a write', async () => {
    const res = await exec({ sql: 'INSERT INTO kv SELECT g::text, g FROM generate_series(1, 3) g' });
    expect(res.data.executeQuery).toMatchObject({
      command: 'INSERT',
      rowCount: 3,
      rows: [],
      target: 'primary',
    });
  });

  it('cancels a statement on the server when its timeout passes', async () => {
    const res = await exec({ sql: 'SELECT pg_sleep(10)', timeoutMs: 300 });
    expect(res.errors?.[0]?.extensions?.code).toBe('QUERY_TIMEOUT');
    expect(res.errors?.[0]?.message).toMatch(/longer than 300 ms/);
    const tooLong = await exec({ sql: 'SELECT 1', timeoutMs: 60_000 });
    expect(tooLong.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(tooLong.errors?.[0]?.message).toMatch(/DB_STATEMENT_TIMEOUT/);
  });

  it('cancels the running statement when the client goes away', async () => {
    const controller = new AbortController();
    const pending = fetch(`${server.pp.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: EXECUTE,
        variables: { sql: "SELECT pg_sleep(15), 'client-gone' AS tag" },
      }),
      signal: controller.signal,
    }).catch(() => undefined);
    const activity = () =>
      run(
        primaryUrl,
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND state = 'active' AND query LIKE '%client-gone%' AND pid <> pg_backend_pid()",
        [server.db.name],
      ).then((r) => r.rows[0].n as number);
    await eventually(async () => (await activity()) === 1);
    controller.abort();
    await pending;
    await eventually(async () => (await activity()) === 0, 5_000);
    await eventually(() => server.pp.poolpilot.cluster.primary.pool.state().active === 0);
  });

  it('runs several statements atomically on the primary', async () => {
    const TX = `mutation($statements: [StatementInput!]!) {
      executeTransaction(statements: $statements) { target results { rowCount command rows } }
    }`;
    const ok = await server.pp.gql<any>(TX, {
      statements: [
        { sql: 'UPDATE kv SET v = v - 1 WHERE k = $1', params: ['1'] },
        { sql: 'UPDATE kv SET v = v + 1 WHERE k = $1', params: ['2'] },
        { sql: 'SELECT k, v FROM kv ORDER BY k' },
      ],
    });
    expect(ok.errors).toBeUndefined();
    expect(ok.data.executeTransaction.target).toBe('primary');
    expect(ok.data.executeTransaction.results[2].rows).toEqual([
      { k: '1', v: 0 },
      { k: '2', v: 3 },
      { k: '3', v: 3 },
    ]);
    const failed = await server.pp.gql<any>(TX, {
      statements: [
        { sql: 'UPDATE kv SET v = v + 100 WHERE k = $1', params: ['3'] },
        { sql: 'UPDATE kv SET v = v - 1 WHERE k = $1', params: ['1'] }, // violates the CHECK
      ],
    });
    expect(failed.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_SQL',
      sqlstate: '23514',
      statement: 1,
    });
    const { rows } = await run(server.url, "SELECT v FROM kv WHERE k = '3'");
    expect(rows[0].v).toBe(3); // the first update was rolled back
    const begin = await exec({ sql: 'BEGIN' });
    expect(begin.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(begin.errors?.[0]?.message).toMatch(/executeTransaction/);
  });

  it('does not let session state reach the next caller', async () => {
    await exec({ sql: "SET work_mem = '7MB'" });
    for (let i = 0; i < 4; i++) {
      const res = await exec({ sql: 'SHOW work_mem' });
      expect(res.data.executeQuery.rows[0].work_mem).not.toBe('7MB');
    }
  });
});
