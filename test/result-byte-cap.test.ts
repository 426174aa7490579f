import { describe, expect, it } from 'vitest';
import { useTestServer } from './harness/server.js';

const EXECUTE = `mutation($sql: String!, $maxRows: Int) {
  executeQuery(sql: $sql, maxRows: $maxRows) {
    rowCount truncated truncatedBy bytes
    fields { name dataTypeID tableID columnID typeModifier typeSize format }
  }
}`;

describe('result byte cap (EXECUTE_MAX_BYTES)', () => {
  const server = useTestServer({
    DB_POOL_MIN: '1',
    DB_POOL_SIZE: '2',
    EXECUTE_MAX_BYTES: String(1024 * 1024),
  });

  it('serves a result larger than the cap truncated, says why, and keeps serving', async () => {
    // 40 rows of 1 MB: 40 times the cap. Before the cap the whole result was held and served.
    const big = await server.pp.gql<any>(EXECUTE, {
      sql: "SELECT g, repeat('x', 1024 * 1024) AS blob FROM generate_series(1, 40) g",
    });
    expect(big.errors).toBeUndefined();
    const r = big.data.executeQuery;
    expect(r).toMatchObject({ truncated: true, truncatedBy: 'BYTES' });
    expect(r.rowCount).toBeLessThanOrEqual(1);
    // Every byte the server sent was read off the socket (and dropped), so the connection is reusable.
    expect(r.bytes).toBeGreaterThan(40 * 1024 * 1024);
    const small = await server.pp.gql<any>(EXECUTE, { sql: 'SELECT 1 AS one, 2 AS one' });
    expect(small.data.executeQuery).toMatchObject({ truncated: false, truncatedBy: null, rowCount: 1 });
    // Duplicate column names are kept in the field list, with RowDescription's details.
    expect(small.data.executeQuery.fields.map((f: { name: string }) => f.name)).toEqual(['one', 'one']);
    expect(small.data.executeQuery.fields[0]).toMatchObject({
      dataTypeID: 23,
      tableID: 0,
      typeSize: 4,
      format: 0,
    });
  });

  it('tells a row cap from a byte cap', async () => {
    const rows = await server.pp.gql<any>(EXECUTE, {
      sql: 'SELECT g FROM generate_series(1, 100) g',
      maxRows: 10,
    });
    expect(rows.data.executeQuery).toMatchObject({ truncated: true, truncatedBy: 'ROWS', rowCount: 10 });
  });
});
