import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import Cursor from 'pg-cursor';
import QueryStream from 'pg-query-stream';
import postgres from 'postgres';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually, run } from './harness/database.js';
import { type RunningWire, useWire } from './harness/wire.js';

const { primaryUrl, replicaUrl } = inject('databases');
const port = (url: string | null) => Number(new URL(url ?? 'postgres://x:1/').port);

/** Pid-free: what the front's own state says about its clients between units of work. */
function proxyIdle(front: RunningWire): boolean {
  return [...front.surface.proxy.sessions()].every((s) => !s.busy() && s.target === null);
}

/**
 * Drivers used the way applications use them, through the front, against the harness's primary
 * and streaming replica: postgres.js with `prepare: true` (named statements, pipelining,
 * describe-first, transactions and savepoints, cancel), pg-cursor, pg-query-stream and COPY with
 * pg-copy-streams. Where a statement ran is read from PostgreSQL itself.
 */
describe('wire front: drivers as applications use them', () => {
  const wire = useWire(
    {
      DB_POOL_SIZE: '4',
      DB_POOL_MIN: '1',
      DB_REPLICA_MAX_LAG_MS: '60000',
      ROUTE_MEDIUM_THRESHOLD: '0',
      READ_YOUR_WRITES_WINDOW_MS: '30000',
    },
    {
      replica: true,
      prefix: 'pp_whabit',
      setup: `CREATE TABLE reference (id int PRIMARY KEY, label text);
              INSERT INTO reference SELECT g, 'ref ' || g FROM generate_series(1, 5000) g;
              CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL CHECK (balance >= 0));
              CREATE TABLE imported (id int PRIMARY KEY, label text, amount numeric);`,
    },
  );
  const open: { end(): Promise<unknown> }[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.end().catch(() => undefined)));
  });
  const connectPg = async () => {
    const c = new pg.Client(wire.front.connection);
    c.on('error', () => {});
    open.push(c);
    await c.connect();
    return c;
  };
  const connectPostgres = (options: postgres.Options<Record<string, never>> = {}) => {
    const sql = postgres({ ...wire.front.connection, prepare: true, max: 1, onnotice: () => {}, ...options });
    open.push({ end: () => sql.end({ timeout: 5 }) });
    return sql;
  };
  const direct = () => wire.front.db.url(primaryUrl);

  beforeAll(async () => {
    await eventually(
      async () =>
        (await run(wire.front.db.url(replicaUrl!), 'SELECT count(*)::int AS n FROM reference')).rows[0].n ===
        5000,
    );
  });

  describe('postgres.js (prepare: true)', () => {
    it('pipelines many prepared queries on one connection, reads on the replica, each answer its own', async () => {
      const sql = connectPostgres();
      for (let round = 0; round < 3; round++) {
        const answers = await Promise.all(
          Array.from(
            { length: 25 },
            (_, i) =>
              sql`SELECT id, label, pg_is_in_recovery() AS standby, current_setting('port')::int AS port FROM reference WHERE id = ${i + 1 + round}`,
          ),
        );
        expect(answers.map((r) => r[0])).toEqual(
          Array.from({ length: 25 }, (_, i) => ({
            id: i + 1 + round,
            label: `ref ${i + 1 + round}`,
            standby: true,
            port: port(replicaUrl),
          })),
        );
      }
      // Statements of other shapes in the same pipeline, typed by the server's Describe.
      const [a, b, c] = await Promise.all([
        sql`SELECT ${'text'}::text AS t, ${7}::int8 AS big`,
        sql`SELECT ${new Date('2026-01-02T03:04:05Z')}::timestamptz AS at`,
        sql`SELECT ${[1, 2, 3]}::int[] AS arr`,
      ]);
      expect(a).toEqual([{ t: 'text', big: '7' }]);
      expect(b).toEqual([{ at: new Date('2026-01-02T03:04:05Z') }]);
      expect(c).toEqual([{ arr: [1, 2, 3] }]);
      // They are named statements on the server, under poolpilot's names, not the driver's.
      const held = await sql.begin((tx) => tx`SELECT name FROM pg_prepared_statements WHERE ${true}`);
      expect(held.length).toBeGreaterThan(0);
      for (const { name } of held) expect(name).toMatch(/^pp_[0-9a-f]{40}$/);
      await eventually(() => proxyIdle(wire.front));
    });

    it('describes a statement first (sql.describe / unsafe prepare) and runs it later on whatever connection it lands', async () => {
      const sql = connectPostgres();
      const described =
        await sql`SELECT id, label FROM reference WHERE id = ${1} AND label <> ${'x'}`.describe();
      expect(described.types).toEqual([23, 25]);
      expect(described.columns.map((col) => col.name)).toEqual(['id', 'label']);
      const rows = await sql.unsafe('SELECT label FROM reference WHERE id = $1', [42], { prepare: true });
      expect(rows).toEqual([{ label: 'ref 42' }]);
      // The same statement again, now in a write transaction on the primary: parsed there as needed.
      const inTx = await sql.begin(async (tx) => {
        await tx`INSERT INTO accounts VALUES (${9000}, ${1}) ON CONFLICT DO NOTHING`;
        return tx.unsafe('SELECT label, pg_is_in_recovery() AS standby FROM reference WHERE id = $1', [42], {
          prepare: true,
        });
      });
      expect(inTx).toEqual([{ label: 'ref 42', standby: false }]);
    });

    it('runs sql.begin with savepoints: a failed savepoint rolls back alone, the transaction commits', async () => {
      const sql = connectPostgres();
      const result = await sql.begin(async (tx) => {
        await tx`INSERT INTO accounts VALUES (${1}, ${100})`;
        const failed = await tx
          .savepoint(async (sp) => {
            await sp`INSERT INTO accounts VALUES (${2}, ${50})`;
            await sp`UPDATE accounts SET balance = balance - ${500} WHERE id = ${1}`; // violates the CHECK
          })
          .catch((e) => e);
        expect(failed).toMatchObject({ code: '23514' });
        await tx.savepoint(async (sp) => {
          await sp`INSERT INTO accounts VALUES (${3}, ${30})`;
        });
        return tx`SELECT id, balance, pg_is_in_recovery() AS standby FROM accounts WHERE id < ${100} ORDER BY id`;
      });
      expect(result).toEqual([
        { id: 1, balance: 100, standby: false },
        { id: 3, balance: 30, standby: false },
      ]);
      const committed = await run(direct(), 'SELECT id FROM accounts WHERE id < 100 ORDER BY id');
      expect(committed.rows).toEqual([{ id: 1 }, { id: 3 }]);
      // A transaction that throws rolls back entirely.
      const thrown = await sql
        .begin(async (tx) => {
          await tx`INSERT INTO accounts VALUES (${4}, ${1})`;
          throw new Error('changed my mind');
        })
        .catch((e: Error) => e.message);
      expect(thrown).toBe('changed my mind');
      expect((await run(direct(), 'SELECT count(*)::int AS n FROM accounts WHERE id = 4')).rows[0].n).toBe(0);
      await eventually(() => proxyIdle(wire.front));
    });

    it('cancels a running prepared statement with query.cancel(), and the connection goes on', async () => {
      const sql = connectPostgres();
      await sql`SELECT ${1}::int AS warm`;
      const query = sql`SELECT pg_sleep(${10}) AS slept`;
      const outcome = query.then(
        () => null,
        (e) => e,
      );
      await eventually(() => [...wire.front.surface.proxy.sessions()].some((s) => s.target !== null));
      await sleep(100);
      query.cancel();
      expect(await outcome).toMatchObject({ code: '57014' });
      expect(await sql`SELECT ${4}::int AS ok`).toEqual([{ ok: 4 }]);
    });

    it('serves 20 postgres.js clients (max 2 each) sharing the same statements on a pool of 4', async () => {
      const clients = Array.from({ length: 20 }, () => connectPostgres({ max: 2 }));
      const sums = await Promise.all(
        clients.map(async (sql, i) => {
          let sum = 0;
          for (let k = 0; k < 5; k++) {
            const [row] = await sql`SELECT id FROM reference WHERE id = ${i * 5 + k + 1}`;
            sum += row!.id as number;
          }
          return sum;
        }),
      );
      expect(sums).toEqual(Array.from({ length: 20 }, (_, i) => 5 * (i * 5) + 15));
    });
  });

  describe('node-postgres cursors and streams', () => {
    it('reads in batches through pg-cursor inside a transaction, on one backend', async () => {
      const c = await connectPg();
      await c.query('BEGIN READ ONLY');
      const cursor = c.query(
        new Cursor(
          'SELECT id, pg_backend_pid() AS pid, pg_is_in_recovery() AS standby FROM reference WHERE id > $1 ORDER BY id',
          [1000],
        ),
      );
      const ids: number[] = [];
      const pids = new Set<number>();
      for (;;) {
        const rows = await cursor.read(500);
        if (rows.length === 0) break;
        for (const r of rows) {
          ids.push(r.id);
          pids.add(r.pid);
          expect(r.standby).toBe(true);
        }
      }
      await cursor.close();
      await c.query('COMMIT');
      expect(ids).toEqual(Array.from({ length: 4000 }, (_, i) => i + 1001));
      expect(pids.size).toBe(1);
      await eventually(() => proxyIdle(wire.front));
    });

    it('streams a large result through pg-query-stream with backpressure', async () => {
      const c = await connectPg();
      const stream = c.query(
        new QueryStream('SELECT g AS n, repeat($1, 200) AS pad FROM generate_series(1, 50000) g', ['x'], {
          batchSize: 1000,
        }),
      );
      let count = 0;
      let sum = 0;
      await pipeline(
        stream,
        new Writable({
          objectMode: true,
          highWaterMark: 8,
          write(row: { n: number; pad: string }, _enc, done) {
            count += 1;
            sum += row.n;
            // A slow consumer: every 5000 rows it waits a moment.
            if (count % 5000 === 0) setTimeout(done, 5);
            else done();
          },
        }),
      );
      expect(count).toBe(50_000);
      expect(sum).toBe((50_000 * 50_001) / 2);
      expect((await c.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
      await eventually(() => proxyIdle(wire.front));
    });
  });

  describe('COPY through pg-copy-streams', () => {
    const csv = (from: number, to: number) =>
      Array.from(
        { length: to - from + 1 },
        (_, i) => `${from + i},"label ${from + i}, quoted",${(from + i) / 4}\n`,
      );

    it('copies rows in with COPY FROM STDIN (row count as the server counted) and out with COPY TO STDOUT', async () => {
      const c = await connectPg();
      const into = c.query(copyFrom('COPY imported (id, label, amount) FROM STDIN WITH (FORMAT csv)'));
      await pipeline(Readable.from(csv(1, 3000)), into);
      expect(into.rowCount).toBe(3000);
      const counted = await run(direct(), 'SELECT count(*)::int AS n, sum(amount)::text AS s FROM imported');
      expect(counted.rows[0]).toEqual({ n: 3000, s: '1125375.00' }); // (1 + ... + 3000) / 4

      const out = c.query(
        copyTo('COPY (SELECT id, label, amount FROM imported ORDER BY id) TO STDOUT WITH (FORMAT csv)'),
      );
      const chunks: Buffer[] = [];
      await pipeline(
        out,
        new Writable({
          write(chunk: Buffer, _enc, done) {
            chunks.push(chunk);
            done();
          },
        }),
      );
      expect(out.rowCount).toBe(3000);
      expect(Buffer.concat(chunks).toString()).toBe(csv(1, 3000).join(''));
      await eventually(() => proxyIdle(wire.front));
    });

    it('copies inside a transaction: rolled back with it, committed with it, on one backend', async () => {
      const c = await connectPg();
      await c.query('BEGIN');
      const pid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      const rolled = c.query(copyFrom('COPY imported (id, label, amount) FROM STDIN WITH (FORMAT csv)'));
      await pipeline(Readable.from(csv(5001, 5100)), rolled);
      expect(rolled.rowCount).toBe(100);
      const inside = await c.query(
        'SELECT count(*)::int AS n, pg_backend_pid() AS pid FROM imported WHERE id > 5000',
      );
      expect(inside.rows[0]).toEqual({ n: 100, pid });
      await c.query('ROLLBACK');
      expect((await run(direct(), 'SELECT count(*)::int AS n FROM imported WHERE id > 5000')).rows[0].n).toBe(
        0,
      );

      await c.query('BEGIN');
      const kept = c.query(copyFrom('COPY imported (id, label, amount) FROM STDIN WITH (FORMAT csv)'));
      await pipeline(Readable.from(csv(6001, 6050)), kept);
      await c.query('COMMIT');
      expect(kept.rowCount).toBe(50);
      expect((await run(direct(), 'SELECT count(*)::int AS n FROM imported WHERE id > 6000')).rows[0].n).toBe(
        50,
      );
    });

    it('reports bad COPY data as PostgreSQL does, and the connection goes on', async () => {
      const c = await connectPg();
      const bad = c.query(copyFrom('COPY imported (id, label, amount) FROM STDIN WITH (FORMAT csv)'));
      const failed = await pipeline(Readable.from(['7001,ok,1\n', 'not a number,x,1\n']), bad).catch(
        (e) => e,
      );
      expect(failed).toMatchObject({ code: '22P02' });
      expect((await c.query('SELECT count(*)::int AS n FROM imported WHERE id = 7001')).rows).toEqual([
        { n: 0 },
      ]);
      await eventually(() => proxyIdle(wire.front));
    });
  });
});
