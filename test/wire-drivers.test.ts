import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import Cursor from 'pg-cursor';
import postgres from 'postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, poolConnections, run } from './harness/database.js';
import { type RunningWire, useWire } from './harness/wire.js';

const TEN_MB = 10 * 1024 * 1024;

const SETUP = `
  CREATE TABLE typed (
    id int PRIMARY KEY, i8 int8, num numeric, ts timestamptz, js json, jb jsonb, bin bytea,
    ints int[], texts text[], note text
  );
  CREATE TABLE ledger (id int PRIMARY KEY, amount int NOT NULL CHECK (amount > 0));
  CREATE TABLE blobs (id int PRIMARY KEY, body text);`;

/** What a driver should give back for the row written with `VALUES` (int8/numeric as strings: no precision lost). */
const VALUES = {
  i8: '9007199254740993', // 2^53 + 1: a number would round it
  num: '12345678901234567890.123456789',
  ts: new Date('2026-01-02T03:04:05.678Z'),
  js: { a: [1, 'x', null], b: { c: true } },
  bin: Buffer.from([0, 1, 2, 127, 128, 254, 255]),
  ints: [1, 2, null, 4],
  texts: ['a', 'with space', 'quote"', 'comma,', null, ''],
};

/** Pid-free: what the front's own state says about a client between units of work. */
function proxyIdle(front: RunningWire): boolean {
  return [...front.surface.proxy.sessions()].every((s) => !s.busy() && s.target === null);
}

function pgClient(front: RunningWire, extra: pg.ClientConfig = {}): pg.Client {
  const c = new pg.Client({ ...front.connection, ...extra });
  c.on('error', () => {});
  return c;
}

/** A CancelRequest with the key the front gave this client, the way libpq sends one. */
function sendCancel(port: number, processId: number, secretKey: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      const packet = Buffer.alloc(16);
      packet.writeInt32BE(16, 0);
      packet.writeInt32BE(80877102, 4);
      packet.writeInt32BE(processId, 8);
      packet.writeInt32BE(secretKey, 12);
      socket.end(packet);
    });
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

describe('wire front: node-postgres and postgres.js', () => {
  const wire = useWire({ DB_POOL_SIZE: '5', DB_POOL_MIN: '1' }, { setup: SETUP, prefix: 'pp_wdrv' });
  const open: { end(): Promise<unknown> }[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.end().catch(() => undefined)));
  });

  const connectPg = async (extra: pg.ClientConfig = {}) => {
    const c = pgClient(wire.front, extra);
    open.push(c);
    await c.connect();
    return c;
  };
  const connectPostgres = (options: postgres.Options<Record<string, never>> = {}) => {
    const sql = postgres({
      ...wire.front.connection,
      prepare: false,
      max: 1,
      onnotice: () => {},
      ...options,
    });
    open.push({ end: () => sql.end({ timeout: 5 }) });
    return sql;
  };

  describe('node-postgres', () => {
    it('sends parameters and reads back every common type, NULLs included', async () => {
      const c = await connectPg();
      const params = [VALUES.i8, VALUES.num, VALUES.ts, VALUES.js, VALUES.bin, VALUES.ints, VALUES.texts];
      const echoed = await c.query(
        'SELECT $1::int8 AS i8, $2::numeric AS num, $3::timestamptz AS ts, $4::json AS js, $5::bytea AS bin, $6::int[] AS ints, $7::text[] AS texts, $8::text AS note',
        [...params, null],
      );
      expect(echoed.rows).toEqual([{ ...VALUES, note: null }]);

      await c.query(
        'INSERT INTO typed (id, i8, num, ts, js, jb, bin, ints, texts, note) VALUES (1, $1, $2, $3, $4, $9, $5, $6, $7, $8)',
        [...params, null, VALUES.js],
      );
      await c.query('INSERT INTO typed (id) VALUES (2)');
      const { rows } = await c.query('SELECT * FROM typed ORDER BY id');
      expect(rows[0]).toEqual({ id: 1, ...VALUES, jb: VALUES.js, note: null });
      expect(rows[1]).toEqual({
        id: 2,
        i8: null,
        num: null,
        ts: null,
        js: null,
        jb: null,
        bin: null,
        ints: null,
        texts: null,
        note: null,
      });
      // The simple protocol too (no parameters): text results parsed the same way.
      const simple = await c.query("SELECT 1::int8 AS one, NULL::int AS none, '{1,2}'::int[] AS arr");
      expect(simple.rows).toEqual([{ one: '1', none: null, arr: [1, 2] }]);
    });

    it('carries a 10 MB text value both ways', async () => {
      const c = await connectPg();
      const big = 'abcdefghij'.repeat(TEN_MB / 10);
      await c.query('INSERT INTO blobs VALUES (1, $1)', [big]);
      const back = await c.query('SELECT body FROM blobs WHERE id = 1');
      expect(back.rows[0].body.length).toBe(TEN_MB);
      expect(back.rows[0].body === big).toBe(true);
      const made = await c.query(`SELECT repeat('z', ${TEN_MB}) AS z, md5(repeat('z', ${TEN_MB})) AS sum`);
      expect(made.rows[0].z.length).toBe(TEN_MB);
      expect(made.rows[0].sum).toBe(
        (await run(primaryUrlOf(wire.front), `SELECT md5(repeat('z', ${TEN_MB})) AS s`)).rows[0].s,
      );
    });

    it('recovers from an error mid-transaction with ROLLBACK: the connection is usable and idle again', async () => {
      const c = await connectPg();
      await c.query('BEGIN');
      await c.query('INSERT INTO ledger VALUES (1, 10)');
      const failed = await c.query('INSERT INTO ledger VALUES (2, -1)').catch((e) => e);
      expect(failed).toMatchObject({ code: '23514', constraint: 'ledger_amount_check', table: 'ledger' });
      const aborted = await c.query('SELECT 1').catch((e) => e);
      expect(aborted).toMatchObject({ code: '25P02' });
      await c.query('ROLLBACK');
      expect(await c.query('SELECT count(*)::int AS n FROM ledger')).toMatchObject({ rows: [{ n: 0 }] });
      await eventually(() => proxyIdle(wire.front));
      // The same with the extended protocol, and a division by zero in the middle.
      await c.query('BEGIN');
      await c.query('INSERT INTO ledger VALUES ($1, $2)', [3, 30]);
      expect(await c.query('SELECT $1::int / 0', [1]).catch((e) => e)).toMatchObject({ code: '22012' });
      await c.query('ROLLBACK');
      const after = await c.query('SELECT count(*)::int AS n, pg_backend_pid() AS pid FROM ledger');
      expect(after.rows[0].n).toBe(0);
      await eventually(() => proxyIdle(wire.front));
    });

    it('cancels a running statement with a CancelRequest carrying the key the front handed out', async () => {
      const c = await connectPg();
      const { processID, secretKey } = c as unknown as { processID: number; secretKey: number };
      const sleeping = c.query('SELECT pg_sleep(10)').catch((e) => e);
      // Once the statement runs on a server connection, cancel it.
      await eventually(() => [...wire.front.surface.proxy.sessions()].some((s) => s.target !== null));
      await sleep(100);
      await sendCancel(wire.front.port, processID, secretKey);
      expect(await sleeping).toMatchObject({
        code: '57014',
        message: 'canceling statement due to user request',
      });
      expect((await c.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);

      // A CancelRequest while the client holds no connection is dropped: nothing later is hit.
      await sendCancel(wire.front.port, processID, secretKey);
      await sleep(100);
      expect((await c.query('SELECT pg_sleep(0.2), 2 AS ok')).rows[0].ok).toBe(2);
      // A wrong key cancels nothing.
      const sleeping2 = c.query('SELECT pg_sleep(0.5) AS slept');
      await sleep(100);
      await sendCancel(wire.front.port, processID, secretKey ^ 1);
      expect((await sleeping2).rows).toEqual([{ slept: '' }]);
    });

    it('reads a result in batches through pg-cursor', async () => {
      const c = await connectPg();
      const cursor = c.query(new Cursor('SELECT g AS n FROM generate_series(1, 1000) g WHERE g > $1', [0]));
      const seen: number[] = [];
      for (;;) {
        const rows = await cursor.read(128);
        if (rows.length === 0) break;
        seen.push(...rows.map((r) => r.n));
      }
      await cursor.close();
      expect(seen).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
      expect((await c.query('SELECT 3 AS ok')).rows).toEqual([{ ok: 3 }]);
      await eventually(() => proxyIdle(wire.front));
    });
  });

  describe('postgres.js (prepare: false)', () => {
    it('sends parameters and reads back every common type, NULLs included, as PostgreSQL itself answers', async () => {
      const query = (sql: postgres.Sql) => sql`
        SELECT ${VALUES.i8}::int8 AS i8, ${VALUES.num}::numeric AS num, ${VALUES.ts}::timestamptz AS ts,
               ${sql.json(VALUES.js)}::json AS js, ${VALUES.bin}::bytea AS bin,
               ${'{1,2,4}'}::int[] AS ints, ${null}::text AS note, ARRAY['a', NULL, 'b c'] AS texts,
               ARRAY[1, NULL]::int[] AS with_null, i8 AS stored_i8, jb AS stored_jb, texts AS stored_texts
        FROM typed WHERE id = ${1}`;
      const sql = connectPostgres();
      // The row node-postgres wrote above, in case this runs alone.
      await sql`INSERT INTO typed (id, i8, jb, texts) VALUES (1, ${VALUES.i8}, ${sql.json(VALUES.js)}, ${'{a,NULL,""}'}) ON CONFLICT DO NOTHING`;
      const [row] = await query(sql);
      expect(row).toMatchObject({
        i8: VALUES.i8,
        num: VALUES.num,
        ts: VALUES.ts,
        js: VALUES.js,
        bin: VALUES.bin,
        ints: [1, 2, 4],
        note: null,
        stored_i8: VALUES.i8,
        stored_jb: VALUES.js,
      });
      // Directly on the primary, the driver gives back exactly the same (quirks included: it
      // reads a NULL in an int[] as NaN and in a text[] as "NULL").
      const direct = postgres(primaryUrlOf(wire.front), { prepare: false, max: 1, onnotice: () => {} });
      try {
        expect(await query(direct)).toEqual([row]);
      } finally {
        await direct.end({ timeout: 5 });
      }
    });

    it('carries a 10 MB text value both ways', async () => {
      const sql = connectPostgres();
      const big = '0123456789'.repeat(TEN_MB / 10);
      await sql`INSERT INTO blobs VALUES (2, ${big})`;
      const [back] = await sql`SELECT body, length(body) AS len FROM blobs WHERE id = 2`;
      expect(back!.len).toBe(TEN_MB);
      expect(back!.body === big).toBe(true);
    });

    it('rolls back a transaction that failed and keeps the connection', async () => {
      const sql = connectPostgres();
      const failed = await sql
        .begin(async (tx) => {
          await tx`INSERT INTO ledger VALUES (10, 5)`;
          await tx`INSERT INTO ledger VALUES (11, 0)`;
        })
        .catch((e) => e);
      expect(failed).toMatchObject({ code: '23514' });
      const [counted] = await sql`SELECT count(*)::int AS n FROM ledger WHERE id >= 10`;
      expect(counted).toEqual({ n: 0 });
      const done = await sql.begin(async (tx) => {
        await tx`INSERT INTO ledger VALUES (12, 5)`;
        return tx`SELECT amount FROM ledger WHERE id = 12`;
      });
      expect(done).toEqual([{ amount: 5 }]);
      await eventually(() => proxyIdle(wire.front));
    });

    it('cancels a running statement with query.cancel()', async () => {
      const sql = connectPostgres();
      await sql`SELECT 1`;
      const query = sql`SELECT pg_sleep(10)`;
      const outcome = query.then(
        () => null,
        (e) => e,
      );
      await eventually(() => [...wire.front.surface.proxy.sessions()].some((s) => s.target !== null));
      await sleep(100);
      query.cancel();
      expect(await outcome).toMatchObject({ code: '57014' });
      expect(await sql`SELECT 4 AS ok`).toEqual([{ ok: 4 }]);
    });
  });

  describe('200 concurrent clients over a pool of 5', () => {
    it('serves every one of them, with at most 5 server connections', async () => {
      const clients = 200;
      let peak = 0;
      const watch = setInterval(() => {
        void poolConnections(primaryUrlOf(wire.front), wire.front.database).then((n) => {
          peak = Math.max(peak, n);
        });
      }, 100);
      try {
        const results = await Promise.allSettled(
          Array.from({ length: clients }, async (_, i) => {
            if (i % 2 === 0) {
              const c = pgClient(wire.front);
              await c.connect();
              try {
                await c.query('BEGIN');
                const a = await c.query('SELECT pg_backend_pid() AS pid, $1::int AS i', [i]);
                await c.query('SELECT pg_sleep(0.01)');
                const b = await c.query('SELECT pg_backend_pid() AS pid');
                await c.query('COMMIT');
                expect(b.rows[0].pid).toBe(a.rows[0].pid);
                return a.rows[0].i as number;
              } finally {
                await c.end();
              }
            }
            const sql = postgres({ ...wire.front.connection, prepare: false, max: 1, onnotice: () => {} });
            try {
              const [row] = await sql`SELECT ${i}::int AS i, pg_sleep(0.01)`;
              return row!.i as number;
            } finally {
              await sql.end({ timeout: 5 });
            }
          }),
        );
        const failures = results.filter((r) => r.status === 'rejected');
        expect(failures.map((f) => String((f as PromiseRejectedResult).reason))).toEqual([]);
        expect(results.map((r) => (r as PromiseFulfilledResult<number>).value)).toEqual(
          Array.from({ length: clients }, (_, i) => i),
        );
      } finally {
        clearInterval(watch);
      }
      expect(peak).toBeGreaterThan(0);
      expect(peak).toBeLessThanOrEqual(5);
      await eventually(() => proxyIdle(wire.front) && wire.front.surface.listener.clientCount === 0);
    });
  });
});

function primaryUrlOf(front: RunningWire): string {
  return front.pp.config.primary!.connectionString;
}
