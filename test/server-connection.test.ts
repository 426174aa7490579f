import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ServerConnection } from '../src/core/pool/server-connection.js';
import { createTestDatabase, type TestDatabase } from './harness/database.js';

const { primaryUrl } = inject('databases');

describe('server connection (poolpilot speaks the protocol itself)', () => {
  let db: TestDatabase;
  let url: string;
  const open: ServerConnection[] = [];
  const connect = async () => {
    const c = new ServerConnection({
      connectionString: url,
      applicationName: 'poolpilot-test',
      statementTimeoutMs: 5_000,
      connectTimeoutMs: 5_000,
    });
    open.push(c);
    await c.connect();
    return c;
  };

  beforeAll(async () => {
    db = await createTestDatabase(primaryUrl);
    url = db.url(primaryUrl);
  });
  afterAll(async () => {
    await Promise.all(open.map((c) => c.end()));
    await db.drop();
  });

  it('logs in, knows its key and the server parameters, and types values as node-postgres does', async () => {
    const c = await connect();
    expect(c.processID).toBeGreaterThan(0);
    expect(c.parameters.get('server_version')).toMatch(/^\d+/);
    expect(c.parameters.get('application_name')).toBe('poolpilot-test');
    const r = await c.query('SELECT $1::int AS n, $2::text AS t, NULL::int AS z, now() AS ts, 1 AS n', [
      42,
      'x',
    ]);
    expect(r.rows[0]).toMatchObject({ n: 1, t: 'x', z: null });
    expect(r.rows[0]!.ts).toBeInstanceOf(Date);
    expect(r.fields.map((f) => f.name)).toEqual(['n', 't', 'z', 'ts', 'n']);
    expect(r.command).toBe('SELECT');
    expect(c.transactionStatus).toBe('I');
  });

  it('refuses several statements in the extended protocol and reports SQL errors with their fields', async () => {
    const c = await connect();
    await expect(c.query('SELECT 1; SELECT 2', [])).rejects.toMatchObject({ code: '42601' });
    await expect(c.query('SELECT * FROM nope')).rejects.toMatchObject({ code: '42P01', position: '15' });
    expect((await c.query('SELECT 1 AS a; SELECT 2 AS b')).rows).toEqual([{ b: 2 }]);
  });

  it('streams rows with a row limit and a byte limit, and tracks transaction status and parameters', async () => {
    const c = await connect();
    const rows: (string | null)[][] = [];
    const sink = { fields: () => undefined, row: (v: (string | null)[]) => void rows.push(v) };
    const capped = await c.stream('SELECT g FROM generate_series(1, 100) g', [], sink, {
      maxRows: 10,
      maxBytes: 1e9,
    });
    expect(capped).toMatchObject({ suspended: true, overBytes: false });
    expect(rows).toHaveLength(10);
    rows.length = 0;
    const big = await c.stream("SELECT repeat('x', 100000) FROM generate_series(1, 50)", [], sink, {
      maxRows: 0,
      maxBytes: 350_000,
    });
    expect(big.overBytes).toBe(true);
    expect(rows).toHaveLength(3);
    await c.query('BEGIN');
    expect(c.transactionStatus).toBe('T');
    await c.query("SET TimeZone = 'Asia/Tokyo'");
    expect(c.changedParameters()).toContain('TimeZone');
    await c.query('ROLLBACK');
    expect(c.transactionStatus).toBe('I');
  });

  it('cancels a running statement with its key', async () => {
    const c = await connect();
    const running = c.query('SELECT pg_sleep(5)').catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    await c.cancel();
    expect(await running).toMatchObject({ code: '57014' });
    expect((await c.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
  });
});
