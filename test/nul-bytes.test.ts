import { describe, expect, it } from 'vitest';
import { useTestServer } from './harness/server.js';

/**
 * PostgreSQL ends protocol strings at NUL, so a NUL used to reach the server and come back as
 * DB_UNAVAILABLE ("insufficient data left in message"); the parser judged only the text before it.
 */
describe('NUL bytes in SQL and parameters', () => {
  const server = useTestServer({ DB_POOL_MIN: '1' });
  const execute = (sql: string, params: unknown[] = []) =>
    server.pp.gql(
      'mutation($sql: String!, $params: [JSON]) { executeQuery(sql: $sql, params: $params) { rowCount } }',
      { sql, params },
    );

  it('refuses a NUL in the SQL as BAD_USER_INPUT, before anything is sent', async () => {
    const before = server.pp.poolpilot.cluster.primary.pool.state().queries;
    const res = await execute('SELECT 1\u0000; DROP TABLE IF EXISTS nothing');
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0]?.message).toMatch(/NUL byte \(character 9\)/);
    expect(server.pp.poolpilot.cluster.primary.pool.state().errors).toBe(0);
    expect(server.pp.poolpilot.cluster.primary.pool.state().queries).toBe(before);
    const analyzed = await server.pp.gql('mutation { analyzeQuery(sql: "SELECT 1\\u0000") { complexity } }');
    expect(analyzed.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(server.pp.poolpilot.cluster.primary.pool.state().queries).toBe(before);
  });

  it('refuses a NUL in a string parameter, also inside an array', async () => {
    const flat = await execute('SELECT $1::text AS v', ['a\u0000b']);
    expect(flat.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(flat.errors?.[0]?.message).toMatch(/parameter \$1 contains a NUL byte/);
    const nested = await execute('SELECT $1::int, $2::text[] AS v', [1, ['ok', ['x\u0000']]]);
    expect(nested.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(nested.errors?.[0]?.message).toMatch(/parameter \$2/);
    const fine = await execute('SELECT $1::text AS v', ['no nul here']);
    expect(fine.errors).toBeUndefined();
    // An object goes as JSON text, where a NUL is the escape \u0000: the json type accepts it.
    const json = await execute('SELECT $1::json AS v', [{ a: 'x\u0000' }]);
    expect(json.errors).toBeUndefined();
  });

  it('refuses it in executeTransaction, naming the statement', async () => {
    const res = await server.pp.gql(
      'mutation($s: [StatementInput!]!) { executeTransaction(statements: $s) { results { rowCount } } }',
      { s: [{ sql: 'SELECT 1' }, { sql: 'SELECT $1::text', params: ['\u0000'] }] },
    );
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0]?.message).toMatch(/^statement 2: parameter \$1 contains a NUL byte/);
  });
});
