import pg from 'pg';
import postgres from 'postgres';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually, run } from './harness/database.js';
import { useWire } from './harness/wire.js';

const { primaryUrl, replicaUrl } = inject('databases');
/** Tables no one writes before the read-your-writes test: the first write of each is what is read. */
const FRESH = 10;
const port = (url: string | null) => Number(new URL(url ?? 'postgres://x:1/').port);

/**
 * Where the front ran each statement, asked of PostgreSQL itself: `pg_is_in_recovery()` (true on
 * the replica), `current_setting('port')` (which server) and `pg_backend_pid()` (which connection).
 */
describe('wire front: routing proven by where statements ran', () => {
  const wire = useWire(
    {
      DB_POOL_SIZE: '4',
      DB_POOL_MIN: '1',
      DB_REPLICA_MAX_LAG_MS: '60000',
      ROUTE_MEDIUM_THRESHOLD: '0', // every read is at least MEDIUM: replica-bound unless something pins it
      READ_YOUR_WRITES_WINDOW_MS: '30000',
    },
    {
      replica: true,
      prefix: 'pp_wroute',
      setup: `CREATE TABLE items (id int PRIMARY KEY, label text);
              CREATE TABLE other (id int PRIMARY KEY);
              INSERT INTO other SELECT generate_series(1, 10);
              CREATE TABLE reference (id int PRIMARY KEY);
              INSERT INTO reference SELECT generate_series(1, 10);
              ${Array.from({ length: FRESH }, (_, i) => `CREATE TABLE fresh_${i} (id int);`).join('\n')}`,
    },
  );
  const open: pg.Client[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.end().catch(() => undefined)));
  });
  const connect = async () => {
    const c = new pg.Client(wire.front.connection);
    c.on('error', () => {});
    open.push(c);
    await c.connect();
    return c;
  };

  beforeAll(async () => {
    // The replica has replayed the setup before reads are asked of it.
    await eventually(
      async () =>
        (await run(wire.front.db.url(replicaUrl!), 'SELECT count(*)::int AS n FROM reference')).rows[0].n ===
        10,
    );
  });

  const WHERE =
    "pg_is_in_recovery() AS standby, current_setting('port')::int AS port, pg_backend_pid() AS pid";

  it('runs every statement of a transaction on one backend, on the primary, in both protocols', async () => {
    const clients = await Promise.all([connect(), connect(), connect(), connect(), connect(), connect()]);
    await Promise.all(
      clients.map(async (c, i) => {
        for (let round = 0; round < 5; round++) {
          await c.query('BEGIN');
          const seen = [
            (await c.query(`SELECT ${WHERE}`)).rows[0],
            (await c.query(`SELECT ${WHERE} FROM other WHERE id = $1`, [1 + (i % 10)])).rows[0],
            (await c.query(`INSERT INTO items VALUES ($1, 'tx') RETURNING ${WHERE}`, [1000 + i * 10 + round]))
              .rows[0],
            (await c.query(`SELECT ${WHERE}, pg_sleep(0.005)`)).rows[0],
          ];
          await c.query('COMMIT');
          expect(new Set(seen.map((s) => s.pid)).size).toBe(1);
          for (const s of seen) expect(s).toMatchObject({ standby: false, port: port(primaryUrl) });
        }
      }),
    );
  });

  it('runs writes on the primary', async () => {
    const c = await connect();
    const inserted = await c.query(`INSERT INTO items VALUES (1, 'one') RETURNING ${WHERE}`);
    expect(inserted.rows[0]).toMatchObject({ standby: false, port: port(primaryUrl) });
    const updated = await c.query(`UPDATE items SET label = $1 WHERE id = 1 RETURNING ${WHERE}`, ['uno']);
    expect(updated.rows[0]).toMatchObject({ standby: false, port: port(primaryUrl) });
    // Locking reads are the primary's too.
    const locked = await c.query(`SELECT ${WHERE} FROM other WHERE id = 1 FOR UPDATE`);
    expect(locked.rows[0]).toMatchObject({ standby: false });
  });

  it('runs BEGIN READ ONLY transactions on the replica, on one backend', async () => {
    const c = await connect();
    // Writes of the tests before pin it to the primary until the replica is seen past them.
    await eventually(async () => {
      await c.query('BEGIN READ ONLY');
      const { rows } = await c.query('SELECT pg_is_in_recovery() AS standby');
      await c.query('COMMIT');
      return rows[0].standby;
    });
    for (const begin of [
      'BEGIN READ ONLY',
      'START TRANSACTION READ ONLY',
      'BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY',
    ]) {
      await c.query(begin);
      const a = (await c.query(`SELECT ${WHERE}`)).rows[0];
      const b = (await c.query(`SELECT ${WHERE}, count(*)::int AS n FROM other GROUP BY 1, 2, 3`)).rows[0];
      await c.query('COMMIT');
      expect(a).toMatchObject({ standby: true, port: port(replicaUrl) });
      expect(b).toMatchObject({ standby: true, port: port(replicaUrl), pid: a.pid, n: 10 });
    }
    // A write in one fails as it would on PostgreSQL, and the client carries on.
    await c.query('BEGIN READ ONLY');
    const refused = await c.query("INSERT INTO items VALUES (2, 'no')").catch((e) => e);
    await c.query('ROLLBACK');
    expect(refused).toMatchObject({ code: '25006' });
    expect((await c.query(`INSERT INTO items VALUES (2, 'yes') RETURNING ${WHERE}`)).rows[0].standby).toBe(
      false,
    );
  });

  it('runs medium reads on the replica (simple and extended protocol, postgres.js too)', async () => {
    const c = await connect();
    const simple = await c.query(`SELECT ${WHERE}, count(*)::int AS n FROM reference`);
    expect(simple.rows[0]).toMatchObject({ standby: true, port: port(replicaUrl), n: 10 });
    const extended = await c.query(`SELECT ${WHERE} FROM reference WHERE id = $1`, [3]);
    expect(extended.rows[0]).toMatchObject({ standby: true, port: port(replicaUrl) });
    const sql = postgres({ ...wire.front.connection, prepare: false, max: 1, onnotice: () => {} });
    try {
      const [row] = await sql`SELECT pg_is_in_recovery() AS standby FROM reference WHERE id = ${4}`;
      expect(row).toEqual({ standby: true });
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

  it("reads the client's own write at once, every time, while other tables stay on the replica", async () => {
    const c = await connect();
    for (let id = 100; id < 140; id++) {
      if (id % 2 === 0) await c.query('INSERT INTO items VALUES ($1, $2)', [id, `row ${id}`]);
      else await c.query(`INSERT INTO items VALUES (${id}, 'row ${id}')`);
      const read = await c.query(`SELECT label, ${WHERE} FROM items WHERE id = $1`, [id]);
      expect(read.rows, `row ${id}`).toMatchObject([{ label: `row ${id}` }]);
      // Wherever it was read, that server had the row: if it was the replica, it had replayed the write.
      const other = await c.query('SELECT pg_is_in_recovery() AS standby FROM reference WHERE id = 1');
      expect(other.rows[0].standby).toBe(true);
    }
    // A read-only transaction may go to a replica, but only to one that has the client's writes.
    for (let id = 200; id < 220; id++) {
      await c.query('INSERT INTO items VALUES ($1, $2)', [id, `row ${id}`]);
      await c.query('BEGIN READ ONLY');
      const read = await c.query('SELECT label FROM items WHERE id = $1', [id]);
      await c.query('COMMIT');
      expect(read.rows, `row ${id}`).toEqual([{ label: `row ${id}` }]);
    }
    // A table written for the first time (nothing recorded for it yet), read at once.
    for (let i = 0; i < FRESH; i++) {
      await c.query(`INSERT INTO fresh_${i} VALUES ($1)`, [i]);
      const read = await c.query(`SELECT id, pg_is_in_recovery() AS standby FROM fresh_${i}`);
      expect(read.rows, `fresh_${i}`).toMatchObject([{ id: i }]);
    }
    // A write inside a transaction counts the same once it commits.
    await c.query('BEGIN');
    await c.query("INSERT INTO items VALUES (500, 'in a transaction')");
    await c.query('COMMIT');
    const read = await c.query('SELECT label FROM items WHERE id = 500');
    expect(read.rows).toEqual([{ label: 'in a transaction' }]);
  });
});
