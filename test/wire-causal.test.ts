import pg from 'pg';
import postgres from 'postgres';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWire, startWire, useWire } from './harness/wire.js';

const SETUP = `CREATE TABLE items (id int PRIMARY KEY, label text);
               CREATE TABLE other (id int PRIMARY KEY);
               INSERT INTO other SELECT generate_series(1, 10);`;

/** Where a read ran, asked of PostgreSQL itself. */
const WHERE = 'SELECT id, label, pg_is_in_recovery() AS standby FROM items WHERE id = $1';

function clients(wire: () => RunningWire) {
  const open: pg.Client[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.end().catch(() => undefined)));
  });
  return async () => {
    const c = new pg.Client(wire().connection);
    c.on('error', () => {});
    open.push(c);
    await c.connect();
    return c;
  };
}

const sqlstate = (p: Promise<unknown>) =>
  p.then(
    () => 'no error',
    (e: { code?: string }) => e.code,
  );

describe('wire front: per-client read-your-writes, decided rather than raced', () => {
  // Replay positions only from the start-up check: a read right after a write is never raced by a reading.
  const wire = useWire(
    {
      DB_POOL_SIZE: '4',
      DB_POOL_MIN: '1',
      DB_REPLICA_MAX_LAG_MS: '600000',
      ROUTE_MEDIUM_THRESHOLD: '0',
      READ_YOUR_WRITES_WINDOW_MS: '600000',
      HEALTH_CHECK_INTERVAL_MS: '3600000',
      REPLAY_POLL_MS: '10000',
      CAUSAL_WAIT_MS: '0',
    },
    { replica: true, prefix: 'pp_wcausal', setup: SETUP },
  );
  const connect = clients(() => wire.front);

  it("keeps a client's reads of what it wrote on the primary; another client reads the table from the replica", async () => {
    const a = await connect();
    const b = await connect();
    await a.query("INSERT INTO items VALUES (1, 'one')");
    const own = await a.query(WHERE, [1]);
    expect(own.rows).toEqual([{ id: 1, label: 'one', standby: false }]);
    const others = await b.query(WHERE, [1]);
    expect(others.rows.every((r) => r.standby === true)).toBe(true);
    expect(others.rows.length).toBeLessThanOrEqual(1);
    // A read-only transaction of the writer: on the primary too (it may read what it wrote).
    await a.query('BEGIN READ ONLY');
    const inTx = await a.query('SELECT pg_is_in_recovery() AS standby');
    await a.query('COMMIT');
    expect(inTx.rows[0].standby).toBe(false);
  });

  it('answers SET/SHOW/RESET poolpilot.after_lsn itself and routes by it', async () => {
    const a = await connect();
    await a.query("INSERT INTO items VALUES (2, 'two')");
    const shown = await a.query('SHOW poolpilot.last_lsn');
    const lsn = shown.rows[0]['poolpilot.last_lsn'] as string;
    expect(lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);

    const b = await connect();
    expect((await b.query('SHOW poolpilot.last_lsn')).rows).toEqual([{ 'poolpilot.last_lsn': null }]);
    await b.query("SET poolpilot.after_lsn = 'FFFFFFFF/0'");
    expect((await b.query('SHOW poolpilot.after_lsn')).rows).toEqual([
      { 'poolpilot.after_lsn': 'FFFFFFFF/0' },
    ]);
    // No replica has it: the primary serves B's reads, whatever the table.
    expect((await b.query('SELECT pg_is_in_recovery() AS standby FROM other LIMIT 1')).rows[0].standby).toBe(
      false,
    );
    await b.query('RESET poolpilot.after_lsn');
    expect((await b.query('SHOW poolpilot.after_lsn')).rows).toEqual([{ 'poolpilot.after_lsn': '' }]);
    expect((await b.query('SELECT pg_is_in_recovery() AS standby FROM other LIMIT 1')).rows[0].standby).toBe(
      true,
    );
    // The comment hint: for the statement it leads.
    const hinted = await b.query(
      '/* poolpilot.after_lsn=FFFFFFFF/0 */ SELECT pg_is_in_recovery() AS standby FROM other',
    );
    expect(hinted.rows[0].standby).toBe(false);
    expect((await b.query('SELECT pg_is_in_recovery() AS standby FROM other LIMIT 1')).rows[0].standby).toBe(
      true,
    );
  });

  it('fails a transaction whose replica has not replayed a SET inside it with 40001, and places the retry right', async () => {
    const c = await connect();
    await c.query('BEGIN READ ONLY');
    expect((await c.query('SELECT pg_is_in_recovery() AS standby')).rows[0].standby).toBe(true);
    expect(await sqlstate(c.query("SET poolpilot.after_lsn = 'FFFFFFFF/0'"))).toBe('40001');
    // The server aborted the transaction too: the client and the server agree.
    expect(await sqlstate(c.query('SELECT 1'))).toBe('25P02');
    await c.query('ROLLBACK');
    // The setting stays for the retry, which the primary now serves.
    await c.query('BEGIN READ ONLY');
    expect((await c.query('SELECT pg_is_in_recovery() AS standby')).rows[0].standby).toBe(false);
    await c.query("SET LOCAL poolpilot.after_lsn = '0/1'"); // on the primary: nothing to wait for
    await c.query('COMMIT');
    await c.query('RESET poolpilot.after_lsn');
  });

  it('refuses what it cannot take with the SQLSTATE PostgreSQL would use, and the client carries on', async () => {
    const c = await connect();
    expect(await sqlstate(c.query("SET poolpilot.after_lsn = 'soon'"))).toBe('22023');
    expect(await sqlstate(c.query("SET poolpilot.last_lsn = '0/1'"))).toBe('55P02');
    expect(await sqlstate(c.query('SHOW poolpilot.nothing'))).toBe('42704');
    expect(await sqlstate(c.query("SELECT 1; SET poolpilot.after_lsn = '0/1'"))).toBe('0A000');
    expect(await sqlstate(c.query('/* poolpilot.after_lsn=x/y */ SELECT 1'))).toBe('22023');
    // Inside a transaction the server raises the error, so the transaction is failed on both sides.
    await c.query('BEGIN');
    expect(await sqlstate(c.query("SET poolpilot.after_lsn = 'soon'"))).toBe('22023');
    expect(await sqlstate(c.query('SELECT 1'))).toBe('25P02');
    await c.query('ROLLBACK');
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('refuses poolpilot.* settings in the extended protocol (postgres.js), outside and inside a transaction', async () => {
    const sql = postgres(wire.front.url, { max: 1, onnotice: () => {} });
    try {
      expect(await sqlstate(sql`SET poolpilot.after_lsn = '0/1'`)).toBe('0A000');
      const inside = await sqlstate(
        sql.begin(async (tx) => {
          await tx`SELECT 1`;
          await tx`SET poolpilot.after_lsn = '0/1'`;
        }),
      );
      expect(inside).toBe('0A000');
      expect(await sql`SELECT 2 AS two`).toEqual([{ two: 2 }]);
    } finally {
      await sql.end();
    }
  });
});

describe('wire front: a token read served by the replica once replayed', () => {
  const holder = {} as { front: RunningWire };
  beforeAll(async () => {
    holder.front = await startWire(
      {
        DB_POOL_SIZE: '4',
        DB_POOL_MIN: '1',
        DB_REPLICA_MAX_LAG_MS: '600000',
        ROUTE_MEDIUM_THRESHOLD: '0',
        CAUSAL_WAIT_MS: '10000',
      },
      { replica: true, prefix: 'pp_wcausal_live', setup: SETUP },
    );
    return () => holder.front.close();
  });
  const connect = clients(() => holder.front);

  it("a client that sets another client's last_lsn reads the write from the replica", async () => {
    const a = await connect();
    await a.query("INSERT INTO items VALUES (3, 'three')");
    const lsn = (await a.query('SHOW poolpilot.last_lsn')).rows[0]['poolpilot.last_lsn'] as string;
    const b = await connect();
    await b.query(`SET poolpilot.after_lsn = '${lsn}'`);
    const read = await b.query(WHERE, [3]);
    expect(read.rows).toEqual([{ id: 3, label: 'three', standby: true }]);
    // In a read-only transaction too, set inside it once the replica has it.
    await b.query('BEGIN READ ONLY');
    await b.query(`SET poolpilot.after_lsn = '${lsn}'`);
    expect((await b.query(WHERE, [3])).rows).toEqual([{ id: 3, label: 'three', standby: true }]);
    await b.query('COMMIT');
  });
});
