import pg from 'pg';
import postgres from 'postgres';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { run } from './harness/database.js';
import { psql, useWire } from './harness/wire.js';

/**
 * Session features under transaction pooling, seen by real clients while their transactions
 * rotate over a pool of 3 connections: settings follow the client that made them and no other,
 * features that would outlive a transaction are refused with 0A000.
 */
describe('wire front: transaction mode', () => {
  const wire = useWire(
    { DB_POOL_SIZE: '3', DB_POOL_MIN: '3' },
    {
      prefix: 'pp_wtxm',
      setup: `CREATE SCHEMA wire_schema;
              CREATE TABLE wire_schema.marker (v text);
              INSERT INTO wire_schema.marker VALUES ('from wire_schema');
              CREATE TABLE public.marker (v text);
              INSERT INTO public.marker VALUES ('from public');`,
    },
  );
  const open: { end(): Promise<unknown> }[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.end().catch(() => undefined)));
  });
  const connect = async (extra: pg.ClientConfig = {}) => {
    const c = new pg.Client({ ...wire.front.connection, ...extra });
    c.on('error', () => {});
    open.push(c);
    await c.connect();
    return c;
  };
  /** The server's own default time zone, as a fresh direct connection sees it. */
  let defaultZone: string;
  beforeAll(async () => {
    defaultZone = (await run(wire.front.pp.config.primary!.connectionString, 'SHOW TimeZone')).rows[0]
      .TimeZone;
    expect(defaultZone).not.toBe('Asia/Tokyo');
  });

  /** `rounds` units of work on each client at once, each saying its time zone and its backend. */
  async function rotate(clients: pg.Client[], rounds: number) {
    return Promise.all(
      clients.map(async (c, i) => {
        const seen: { zone: string; pid: number }[] = [];
        for (let r = 0; r < rounds; r++) {
          const { rows } =
            (r + i) % 2 === 0
              ? await c.query("SELECT current_setting('TimeZone') AS zone, pg_backend_pid() AS pid")
              : await c.query(
                  'SELECT current_setting($1) AS zone, pg_backend_pid() AS pid, pg_sleep(0.002)',
                  ['TimeZone'],
                );
          seen.push({ zone: rows[0].zone, pid: rows[0].pid });
          if (r % 5 === 4) seen.push({ zone: (await c.query('SHOW TimeZone')).rows[0].TimeZone, pid: -1 });
        }
        return seen;
      }),
    );
  }

  it('keeps a SET made outside a transaction for the next transactions of that client, and for no other', async () => {
    const clients = await Promise.all(Array.from({ length: 8 }, () => connect()));
    const defaultTimeout = (await clients[2]!.query('SHOW statement_timeout')).rows[0].statement_timeout;
    expect(defaultTimeout).not.toBe('12345ms');
    await clients[0]!.query("SET TimeZone = 'Asia/Tokyo'");
    await clients[1]!.query('SET statement_timeout = 12345');
    const seen = await rotate(clients, 20);

    const tokyo = seen[0]!;
    expect(tokyo.map((s) => s.zone)).toEqual(tokyo.map(() => 'Asia/Tokyo'));
    // It did land on more than one server connection, so the setting was made again on each.
    expect(new Set(tokyo.filter((s) => s.pid > 0).map((s) => s.pid)).size).toBeGreaterThan(1);
    for (const other of seen.slice(1)) expect(other.map((s) => s.zone)).toEqual(other.map(() => defaultZone));

    // Settings, timestamps included, as the client set them; others unaffected.
    const [ts] = (await clients[0]!.query("SELECT '2026-01-01 12:00:00+00'::timestamptz::text AS t")).rows;
    expect(ts.t).toBe('2026-01-01 21:00:00+09');
    expect((await clients[1]!.query('SHOW statement_timeout')).rows[0].statement_timeout).toBe('12345ms');
    expect((await clients[2]!.query('SHOW statement_timeout')).rows[0].statement_timeout).toBe(
      defaultTimeout,
    );

    // RESET gives the default back; a SET that fails is not kept.
    await clients[0]!.query('RESET TimeZone');
    expect((await clients[0]!.query('SHOW TimeZone')).rows[0].TimeZone).toBe(defaultZone);
    const bad = await clients[2]!.query("SET TimeZone = 'Not/AZone'").catch((e) => e);
    expect(bad).toMatchObject({ code: '22023' });
    expect((await clients[2]!.query('SHOW TimeZone')).rows[0].TimeZone).toBe(defaultZone);
  });

  it('never lets a SET made inside a transaction reach another client', async () => {
    const setter = await connect();
    const others = await Promise.all(Array.from({ length: 5 }, () => connect()));
    await setter.query('BEGIN');
    await setter.query("SET TimeZone = 'Pacific/Auckland'");
    await setter.query('SET search_path = wire_schema');
    expect((await setter.query('SELECT v FROM marker')).rows).toEqual([{ v: 'from wire_schema' }]);
    await setter.query('COMMIT');
    const seen = await rotate(others, 10);
    for (const s of seen) expect(s.map((x) => x.zone)).toEqual(s.map(() => defaultZone));
    for (const c of others)
      expect((await c.query('SELECT v FROM marker')).rows).toEqual([{ v: 'from public' }]);
  });

  it('refuses LISTEN and other session features outside a transaction with 0A000, and allows them inside one', async () => {
    const c = await connect();
    for (const sql of [
      'LISTEN wire_channel',
      'SELECT pg_advisory_lock(42)',
      'PREPARE stmt AS SELECT 1',
      'CREATE TEMP TABLE scratch (id int)',
      'DECLARE held CURSOR WITH HOLD FOR SELECT 1',
    ]) {
      const refused = await c.query(sql).catch((e) => e);
      expect(refused, sql).toMatchObject({ code: '0A000' });
      expect(refused.message, sql).toMatch(/outside a transaction .* pools connections by transaction/);
    }
    // The client carries on, and the same features work inside a transaction.
    expect((await c.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    await c.query('BEGIN');
    await c.query('LISTEN wire_channel');
    await c.query('SELECT pg_advisory_xact_lock(42)');
    await c.query('CREATE TEMP TABLE scratch (id int) ON COMMIT DROP');
    await c.query('COMMIT');
    // psql sees the same refusal.
    const r = await psql(wire.front.libpqEnv, 'LISTEN wire_channel');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/LISTEN outside a transaction/);
  });

  it('applies startup parameters (options -c, TimeZone) to every transaction of the client', async () => {
    const withPath = await Promise.all(
      Array.from({ length: 3 }, () => connect({ options: '-c search_path=wire_schema,public' })),
    );
    const plain = await Promise.all(Array.from({ length: 3 }, () => connect()));
    await Promise.all(
      [...withPath, ...plain].map(async (c, i) => {
        for (let r = 0; r < 10; r++) {
          const { rows } = await c.query(
            'SELECT v, current_setting($1) AS path, pg_backend_pid() AS pid FROM marker',
            ['search_path'],
          );
          expect(rows[0].v).toBe(i < 3 ? 'from wire_schema' : 'from public');
        }
      }),
    );

    const sql = postgres({
      ...wire.front.connection,
      prepare: false,
      max: 1,
      onnotice: () => {},
      connection: { TimeZone: 'America/Sao_Paulo' },
    });
    open.push({ end: () => sql.end({ timeout: 5 }) });
    const busy = await Promise.all(Array.from({ length: 4 }, () => connect()));
    for (let r = 0; r < 10; r++) {
      // Others keep the connections turning over meanwhile.
      const [row] = await Promise.all([
        sql`SELECT current_setting('TimeZone') AS zone, pg_backend_pid() AS pid`.then((rows) => rows[0]!),
        ...busy.map((c) => c.query('SELECT pg_sleep(0.002)')),
      ]);
      expect(row.zone).toBe('America/Sao_Paulo');
    }
    for (const c of busy) expect((await c.query('SHOW TimeZone')).rows[0].TimeZone).toBe(defaultZone);
  });
});
