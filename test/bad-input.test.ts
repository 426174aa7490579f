import { describe, expect, it } from 'vitest';
import { useTestServer } from './harness/server.js';

const EXECUTE =
  'mutation($sql: String!, $params: [JSON]) { executeQuery(sql: $sql, params: $params) { rowCount target } }';
const ANALYZE =
  'mutation($sql: String!) { analyzeQuery(sql: $sql) { complexity parseError { message position } } }';

describe('bad input gets its code and the service keeps answering', () => {
  const server = useTestServer({ DB_POOL_MIN: '1', DB_POOL_SIZE: '4' }, { prefix: 'pp_bad' });

  /** After every bad request: a good one still works. */
  async function stillAnswers() {
    const res = await server.pp.gql<any>(EXECUTE, { sql: 'SELECT 1 AS ok' });
    expect(res.errors).toBeUndefined();
    expect(res.data.executeQuery.rowCount).toBe(1);
  }

  const code = (res: { errors?: { extensions?: Record<string, unknown> }[] }) =>
    res.errors?.[0]?.extensions?.code;

  it('malformed SQL → BAD_SQL with SQLSTATE and position (and analyzeQuery shows the parse error)', async () => {
    const res = await server.pp.gql<any>(EXECUTE, { sql: 'SELECT * FROM pg_class WHER relname = 1' });
    expect(res.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_SQL',
      sqlstate: '42601',
      target: 'primary',
    });
    expect(res.errors?.[0]?.extensions?.position).toBe(29);
    const analysis = await server.pp.gql<any>(ANALYZE, { sql: 'SELECT * FROM pg_class WHER relname = 1' });
    expect(analysis.data.analyzeQuery.parseError).toMatchObject({ position: 29 });
    await stillAnswers();
  });

  it('SQL the server rejects → BAD_SQL with its SQLSTATE', async () => {
    const res = await server.pp.gql<any>(EXECUTE, { sql: 'SELECT * FROM no_such_table' });
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_SQL', sqlstate: '42P01' });
    await stillAnswers();
  });

  it('empty SQL → BAD_USER_INPUT', async () => {
    for (const sql of ['', '   ', ';', '-- nothing']) {
      expect(code(await server.pp.gql(EXECUTE, { sql })), JSON.stringify(sql)).toBe('BAD_USER_INPUT');
    }
    expect(code(await server.pp.gql(ANALYZE, { sql: '' }))).toBe('BAD_USER_INPUT');
    await stillAnswers();
  });

  it('10 MB of SQL → BAD_USER_INPUT', async () => {
    const sql = `SELECT '${'x'.repeat(10 * 1024 * 1024)}'`;
    const res = await server.pp.gql(EXECUTE, { sql });
    expect(code(res)).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0]?.message).toMatch(/MAX_SQL_BYTES/);
    expect(code(await server.pp.gql(ANALYZE, { sql }))).toBe('BAD_USER_INPUT');
    await stillAnswers();
  });

  it('two statements → BAD_USER_INPUT, and neither runs', async () => {
    const res = await server.pp.gql(EXECUTE, { sql: 'CREATE TABLE bad_two (id int); DROP TABLE pg_class' });
    expect(code(res)).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0]?.message).toMatch(/one statement per call; got 2/);
    const exists = await server.pp.gql<any>(EXECUTE, {
      sql: "SELECT 1 FROM pg_tables WHERE tablename = 'bad_two'",
    });
    expect(exists.data.executeQuery.rowCount).toBe(0);
    await stillAnswers();
  });

  it('wrong parameter count → BAD_USER_INPUT', async () => {
    const missing = await server.pp.gql(EXECUTE, { sql: 'SELECT $1::int + $2::int', params: [1] });
    expect(code(missing)).toBe('BAD_USER_INPUT');
    expect(missing.errors?.[0]?.message).toMatch(/2 parameter\(s\).*but 1 were given/);
    const extra = await server.pp.gql(EXECUTE, { sql: 'SELECT 1', params: [1] });
    expect(code(extra)).toBe('BAD_USER_INPUT');
    await stillAnswers();
  });

  it('GraphQL that is malformed, deep, aliased or of the wrong type → BAD_USER_INPUT', async () => {
    expect(code(await server.pp.gql('{ info { name '))).toBe('BAD_USER_INPUT');
    expect(code(await server.pp.gql('{ noSuchField }'))).toBe('BAD_USER_INPUT');
    const deep = `{ poolStats { ${'... on PoolStats { '.repeat(13)} total ${'} '.repeat(13)} } }`;
    const deepRes = await server.pp.gql(deep);
    expect(code(deepRes)).toBe('BAD_USER_INPUT');
    expect(deepRes.errors?.[0]?.message).toMatch(/depth/i);
    const aliased = `{ ${Array.from({ length: 100 }, (_, i) => `a${i}: info { name }`).join(' ')} }`;
    const aliasedRes = await server.pp.gql(aliased);
    expect(code(aliasedRes)).toBe('BAD_USER_INPUT');
    expect(aliasedRes.errors?.[0]?.message).toMatch(/alias/i);
    const tokens = `{ info { ${'name '.repeat(6000)} } }`;
    expect(code(await server.pp.gql(tokens))).toBe('BAD_USER_INPUT');
    expect(code(await server.pp.gql(EXECUTE, { sql: 42 }))).toBe('BAD_USER_INPUT');
    expect(code(await server.pp.gql(EXECUTE, {}))).toBe('BAD_USER_INPUT');
    await stillAnswers();
  });
});
