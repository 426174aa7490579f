import pg from 'pg';
import { serialize } from 'pg-protocol';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually, run } from './harness/database.js';
import { type ProcessResult, psql, runClient, useWire } from './harness/wire.js';
import { errorFields, RawClient, startupPacket } from './support/wire.js';

const { replicaUrl } = inject('databases');
const port = (url: string | null) => Number(new URL(url ?? 'postgres://x:1/').port);

/** "number of transactions actually processed" and "number of failed transactions" of a pgbench run. */
function outcome(r: ProcessResult) {
  const processed = /number of transactions actually processed: (\d+)/.exec(r.stdout);
  const failed = /number of failed transactions: (\d+)/.exec(r.stdout);
  return {
    code: r.code,
    processed: processed ? Number(processed[1]) : null,
    failed: failed ? Number(failed[1]) : null,
    errors: /error|aborted/i.test(r.stderr) ? r.stderr : '',
  };
}

function clientsOf(front: { connection: pg.ClientConfig }) {
  const open: pg.Client[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.end().catch(() => undefined)));
  });
  return async () => {
    const c = new pg.Client(front.connection);
    c.on('error', () => {});
    open.push(c);
    await c.connect();
    return c;
  };
}

/**
 * Named prepared statements in transaction pooling: each client's names map to statements the
 * server connections share, parsed where a Bind lands; proven by where the statements ran
 * (`pg_is_in_recovery()`, the server's port) and by what the server holds (`pg_prepared_statements`).
 */
describe('wire front: named prepared statements across primary and replica', () => {
  const wire = useWire(
    {
      DB_POOL_SIZE: '4',
      DB_POOL_MIN: '1',
      DB_REPLICA_MAX_LAG_MS: '60000',
      ROUTE_MEDIUM_THRESHOLD: '0', // reads go to the replica unless something pins them
      READ_YOUR_WRITES_WINDOW_MS: '30000',
    },
    {
      replica: true,
      prefix: 'pp_wprep',
      setup: `CREATE TABLE items (id int PRIMARY KEY, label text, client int);
              CREATE TABLE reference (id int PRIMARY KEY, label text);
              INSERT INTO reference SELECT g, 'ref ' || g FROM generate_series(1, 100) g;`,
    },
  );
  const front = {
    get connection() {
      return wire.front.connection;
    },
  };
  const connect = clientsOf(front);

  beforeAll(async () => {
    await eventually(
      async () =>
        (await run(wire.front.db.url(replicaUrl!), 'SELECT count(*)::int AS n FROM reference')).rows[0].n ===
        100,
    );
  });

  it('serves 50 node-postgres clients with { name, text, values } on a pool of 4, reads on the replica and writes on the primary', async () => {
    const CLIENTS = 50;
    const ROUNDS = 4;
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => connect()));
    const seen = { replica: 0, primary: 0 };
    await Promise.all(
      clients.map(async (c, i) => {
        for (let round = 0; round < ROUNDS; round++) {
          const id = 1 + ((i * 7 + round) % 100);
          const read = await c.query({
            name: 'read-ref',
            text: 'SELECT pg_is_in_recovery() AS standby, current_setting($2)::int AS port, label FROM reference WHERE id = $1',
            values: [id, 'port'],
          });
          expect(read.rows).toEqual([{ standby: true, port: port(replicaUrl), label: `ref ${id}` }]);
          seen.replica += 1;
          await c.query('BEGIN');
          const wrote = await c.query({
            name: 'add-item',
            text: 'INSERT INTO items (id, label, client) VALUES ($1, $2, $3) RETURNING pg_is_in_recovery() AS standby, id',
            values: [i * 100 + round, `item ${i}/${round}`, i],
          });
          expect(wrote.rows).toEqual([{ standby: false, id: i * 100 + round }]);
          // The same client name, another statement of the same transaction, same connection.
          const mine = await c.query({
            name: 'count-mine',
            text: 'SELECT count(*)::int AS n, pg_is_in_recovery() AS standby FROM items WHERE client = $1',
            values: [i],
          });
          expect(mine.rows).toEqual([{ n: round + 1, standby: false }]);
          await c.query('COMMIT');
          seen.primary += 1;
        }
      }),
    );
    expect(seen).toEqual({ replica: CLIENTS * ROUNDS, primary: CLIENTS * ROUNDS });
    const direct = await run(
      wire.front.db.url(inject('databases').primaryUrl),
      'SELECT count(*)::int AS n FROM items',
    );
    expect(direct.rows[0].n).toBe(CLIENTS * ROUNDS);
  });

  it("keeps two clients' statements of the same name apart, and shares one server statement for the same text", async () => {
    const [a, b] = [await connect(), await connect()];
    const ra = await a.query({ name: 's', text: 'SELECT $1::int + 1 AS v', values: [1] });
    const rb = await b.query({ name: 's', text: "SELECT $1::text || '!' AS v", values: ['x'] });
    expect(ra.rows).toEqual([{ v: 2 }]);
    expect(rb.rows).toEqual([{ v: 'x!' }]);
    for (let k = 0; k < 5; k++) {
      expect((await a.query({ name: 's', text: 'SELECT $1::int + 1 AS v', values: [k] })).rows).toEqual([
        { v: k + 1 },
      ]);
      expect(
        (await b.query({ name: 's', text: "SELECT $1::text || '!' AS v", values: [String(k)] })).rows,
      ).toEqual([{ v: `${k}!` }]);
    }
    // Inside a transaction the server shows what it holds: poolpilot's names, never a client's.
    await a.query('BEGIN');
    await a.query({ name: 's', text: 'SELECT $1::int + 1 AS v', values: [1] });
    const names = await a.query('SELECT name FROM pg_prepared_statements');
    await a.query('COMMIT');
    const held = names.rows.map((r) => r.name as string);
    expect(held.length).toBeGreaterThan(0);
    for (const name of held) expect(name).toMatch(/^pp_[0-9a-f]{40}$/);
  });

  it('answers DEALLOCATE and DISCARD ALL for the client alone, and a Bind of a deallocated name fails as in PostgreSQL', async () => {
    const c = await connect();
    const other = await connect();
    const text = 'SELECT $1::int * 2 AS v';
    expect((await c.query({ name: 'dbl', text, values: [2] })).rows).toEqual([{ v: 4 }]);
    expect((await other.query({ name: 'dbl', text, values: [3] })).rows).toEqual([{ v: 6 }]);
    const dealloc = await c.query('DEALLOCATE dbl');
    expect(dealloc.command).toBe('DEALLOCATE');
    // node-postgres still thinks it is prepared and sends Bind alone: PostgreSQL's answer.
    await expect(c.query({ name: 'dbl', text, values: [2] })).rejects.toMatchObject({
      code: '26000',
      message: 'prepared statement "dbl" does not exist',
    });
    // The other client's statement of the same text is untouched.
    expect((await other.query({ name: 'dbl', text, values: [5] })).rows).toEqual([{ v: 10 }]);
    await expect(c.query('DEALLOCATE dbl')).rejects.toMatchObject({ code: '26000' });

    const d = await connect();
    await d.query({ name: 'a1', text: 'SELECT 1 AS v', values: [] });
    await d.query({ name: 'a2', text: 'SELECT 2 AS v', values: [] });
    expect((await d.query('DEALLOCATE ALL')).command).toBe('DEALLOCATE');
    await expect(d.query({ name: 'a1', text: 'SELECT 1 AS v', values: [] })).rejects.toMatchObject({
      code: '26000',
    });
    const e = await connect();
    await e.query({ name: 'b1', text: 'SELECT 1 AS v', values: [] });
    expect((await e.query('DISCARD ALL')).command).toBe('DISCARD');
    await expect(e.query({ name: 'b1', text: 'SELECT 1 AS v', values: [] })).rejects.toMatchObject({
      code: '26000',
    });
    // Other clients' statements survive a client's DISCARD ALL (the server dropped them; they are parsed again).
    expect((await other.query({ name: 'dbl', text, values: [7] })).rows).toEqual([{ v: 14 }]);
  });

  it('reports a syntax error at Parse and a missing table at first use, as often as the client asks', async () => {
    const c = await connect();
    for (let k = 0; k < 2; k++) {
      await expect(c.query({ name: 'bad', text: 'SELEC 1', values: [] })).rejects.toMatchObject({
        code: '42601',
      });
    }
    // The failed Parse left no name behind, here or on the server.
    await expect(c.query('DEALLOCATE bad')).rejects.toMatchObject({ code: '26000' });
    for (let k = 0; k < 2; k++) {
      await expect(
        c.query({ name: 'gone', text: 'SELECT * FROM no_such_table', values: [] }),
      ).rejects.toMatchObject({ code: '42P01', message: 'relation "no_such_table" does not exist' });
    }
    expect((await c.query({ name: 'fine', text: 'SELECT 1 AS v', values: [] })).rows).toEqual([{ v: 1 }]);
  });
});

describe('wire front: prepared statements on a pool of one, per-connection LRU and limits', () => {
  const wire = useWire(
    {
      DB_POOL_SIZE: '1',
      DB_POOL_MIN: '1',
      WIRE_MAX_PREPARED_STATEMENTS: '3',
      WIRE_MAX_CLIENT_PREPARED_STATEMENTS: '6',
    },
    { prefix: 'pp_wprep1' },
  );
  const front = {
    get connection() {
      return wire.front.connection;
    },
  };
  const connect = clientsOf(front);

  it('keeps at most WIRE_MAX_PREPARED_STATEMENTS on the server connection, parsing evicted ones again when used', async () => {
    const c = await connect();
    for (let round = 0; round < 3; round++) {
      for (let k = 0; k < 6; k++) {
        const r = await c.query({ name: `q${k}`, text: `SELECT $1::int + ${k} AS v`, values: [round] });
        expect(r.rows).toEqual([{ v: round + k }]);
      }
    }
    await c.query('BEGIN');
    const held = await c.query(
      "SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE 'pp\\_%'",
    );
    await c.query('COMMIT');
    expect(held.rows[0].n).toBeGreaterThan(0);
    expect(held.rows[0].n).toBeLessThanOrEqual(3);
  });

  it('refuses a client statement past WIRE_MAX_CLIENT_PREPARED_STATEMENTS with 53400, and accepts one again after DEALLOCATE', async () => {
    const c = await connect();
    for (let k = 0; k < 6; k++) await c.query({ name: `n${k}`, text: `SELECT ${k} AS v`, values: [] });
    await expect(c.query({ name: 'n6', text: 'SELECT 6 AS v', values: [] })).rejects.toMatchObject({
      code: '53400',
      message: expect.stringContaining('WIRE_MAX_CLIENT_PREPARED_STATEMENTS'),
    });
    // The connection is usable, and the limit counts names held, not names ever made.
    await c.query('DEALLOCATE n0');
    expect((await c.query({ name: 'n6', text: 'SELECT 6 AS v', values: [] })).rows).toEqual([{ v: 6 }]);
  });

  it('parses a statement again after the pool reset (DISCARD ALL) dropped it from the connection', async () => {
    const a = await connect();
    const b = await connect();
    expect((await a.query({ name: 'r', text: 'SELECT $1::int AS v', values: [1] })).rows).toEqual([{ v: 1 }]);
    // A session setting leaves the connection dirty: it is reset with DISCARD ALL when it comes back.
    await b.query("SET application_name = 'dirty'");
    await b.query('SELECT 1');
    expect(wire.front.pp.poolpilot.cluster.primary.pool.state().resets).toBeGreaterThan(0);
    expect((await a.query({ name: 'r', text: 'SELECT $1::int AS v', values: [2] })).rows).toEqual([{ v: 2 }]);
  });
});

describe('wire front: pgbench -M prepared', () => {
  const wire = useWire({ DB_POOL_SIZE: '4', DB_POOL_MIN: '1' }, { replica: true, prefix: 'pp_wprepb' });
  const pgbench = (args: string[]) => runClient('pgbench', args, wire.front.libpqEnv, 120_000);

  it('runs -S and TPC-B with 16 clients on a pool of 4 with 0 failed transactions, invariants kept', async () => {
    const init = await pgbench(['-i', '-s', '1', '-q']);
    expect(init.code).toBe(0);
    for (const [name, args] of [
      ['TPC-B extended', ['-M', 'extended', '-T', '3']],
      ['-S prepared', ['-S', '-M', 'prepared', '-T', '3']],
      ['TPC-B prepared', ['-M', 'prepared', '-T', '3']],
    ] as const) {
      const r = await pgbench([...args, '-c', '16', '-j', '2', '-n']);
      const o = outcome(r);
      expect({ name, ...o }).toMatchObject({ name, code: 0, failed: 0, errors: '' });
      expect(o.processed, name).toBeGreaterThan(0);
    }
    const fixed = await pgbench(['-M', 'prepared', '-c', '8', '-j', '2', '-t', '25', '-n']);
    expect(outcome(fixed)).toMatchObject({ code: 0, failed: 0, processed: 200, errors: '' });
    const sums = [
      'SELECT sum(abalance) FROM pgbench_accounts',
      'SELECT sum(bbalance) FROM pgbench_branches',
      'SELECT sum(tbalance) FROM pgbench_tellers',
      'SELECT sum(delta) FROM pgbench_history',
    ];
    const direct = (await psql(wire.front.directEnv, ...sums)).stdout.trim().split('\n');
    expect(direct).toHaveLength(4);
    expect(new Set(direct).size).toBe(1);
  });
});

/**
 * What no driver sends on purpose, in raw protocol messages: duplicate names, pipelines mixing
 * statements the connection holds with new ones, Close and DEALLOCATE in order with the server's
 * replies.
 */
describe('wire front: prepared statements in raw protocol pipelines', () => {
  const wire = useWire(
    { DB_POOL_SIZE: '1', DB_POOL_MIN: '1', WIRE_USERS: undefined, WIRE_MAX_CLIENT_PREPARED_STATEMENTS: '3' },
    { prefix: 'pp_wprepraw' },
  );
  const raws: RawClient[] = [];
  afterEach(() => {
    for (const r of raws.splice(0)) r.destroy();
  });

  async function session(): Promise<RawClient> {
    const raw = await RawClient.connect(wire.front.port);
    raws.push(raw);
    raw.write(startupPacket({ user: 'app', database: wire.front.database }));
    for (;;) {
      const m = await raw.message();
      if (!m) throw new Error('closed during login');
      if (m.type === 'E') throw new Error(errorFields(m.body).M);
      if (m.type === 'Z') return raw;
    }
  }

  /** Sends `bytes` and reads until `readies` ReadyForQuery came: each message as its type, errors as `E:code`, tags as `C:tag`, rows as `D:value`. */
  async function exchange(raw: RawClient, bytes: Buffer[], readies = 1): Promise<string[]> {
    raw.write(Buffer.concat(bytes));
    const seen: string[] = [];
    while (readies > 0) {
      const m = await raw.message();
      if (!m) throw new Error(`closed after ${seen.join(' ')}`);
      if (m.type === 'E') seen.push(`E:${errorFields(m.body).C}`);
      else if (m.type === 'C') seen.push(`C:${m.body.toString('utf8', 0, m.body.length - 1)}`);
      else if (m.type === 'D') seen.push(`D:${m.body.toString('utf8', 6)}`);
      else if (m.type === 'Z') {
        seen.push(`Z:${String.fromCharCode(m.body[0]!)}`);
        readies -= 1;
      } else if (m.type !== 'T' && m.type !== 'N' && m.type !== 'S') seen.push(m.type);
    }
    return seen;
  }

  const P = (name: string, text: string) => serialize.parse({ name, text, types: [] });
  const B = (statement: string) => serialize.bind({ statement, values: [] });
  const E = () => serialize.execute({});
  const S = () => serialize.sync();
  const Q = (text: string) => serialize.query(text);
  const closeStatement = (name: string) => serialize.close({ type: 'S', name });

  it('refuses a name the client holds with 42P05, outside and inside a transaction, as PostgreSQL does', async () => {
    const raw = await session();
    expect(await exchange(raw, [P('a', 'SELECT 1'), S()])).toEqual(['1', 'Z:I']);
    expect(await exchange(raw, [P('a', 'SELECT 2'), S()])).toEqual(['E:42P05', 'Z:I']);
    expect(await exchange(raw, [Q('BEGIN')])).toEqual(['C:BEGIN', 'Z:T']);
    expect(await exchange(raw, [P('a', 'SELECT 3'), S()])).toEqual(['E:42P05', 'Z:E']);
    expect(await exchange(raw, [Q('ROLLBACK')])).toEqual(['C:ROLLBACK', 'Z:I']);
    // The name still means its first statement.
    expect(await exchange(raw, [B('a'), E(), S()])).toEqual(['2', 'D:1', 'C:SELECT 1', 'Z:I']);
  });

  it('answers a pipeline in order: statements held and new, a Close, then a Bind of the closed name', async () => {
    const raw = await session();
    expect(
      await exchange(
        raw,
        [
          Q('BEGIN'),
          P('x', 'SELECT 10 AS v'),
          B('x'),
          E(),
          // Same text under another client name: the connection holds it, nothing is parsed.
          P('y', 'SELECT 10 AS v'),
          B('y'),
          E(),
          closeStatement('x'),
          B('y'),
          E(),
          S(),
          Q('COMMIT'),
        ],
        3,
      ),
    ).toEqual([
      'C:BEGIN',
      'Z:T',
      '1',
      '2',
      'D:10',
      'C:SELECT 1',
      '1',
      '2',
      'D:10',
      'C:SELECT 1',
      '3',
      '2',
      'D:10',
      'C:SELECT 1',
      'Z:T',
      'C:COMMIT',
      'Z:I',
    ]);
    expect(await exchange(raw, [B('x'), E(), S(), B('y'), E(), S()], 2)).toEqual([
      'E:26000',
      'Z:I',
      '2',
      'D:10',
      'C:SELECT 1',
      'Z:I',
    ]);
  });

  it('parses a statement again when an error earlier in its batch made the server skip the Parse poolpilot sent', async () => {
    const raw = await session();
    // Answered here: the statement is on no server yet.
    expect(await exchange(raw, [P('later', "SELECT 'later' AS v"), S()])).toEqual(['1', 'Z:I']);
    // Its Parse goes right before its Bind, after a statement that fails: the server skips both.
    expect(await exchange(raw, [P('', 'SELECT 1/0'), B(''), E(), B('later'), E(), S()])).toEqual([
      '1',
      'E:22012', // at Bind: the constant is folded when the plan is made
      'Z:I',
    ]);
    // One server connection (DB_POOL_SIZE 1): it must not believe it holds the statement.
    expect(await exchange(raw, [B('later'), E(), S()])).toEqual(['2', 'D:later', 'C:SELECT 1', 'Z:I']);
  });

  it('refuses a statement past the client limit with 53400, and with FATAL 53400 inside a transaction', async () => {
    const raw = await session();
    expect(await exchange(raw, [P('l1', 'SELECT 1'), P('l2', 'SELECT 2'), P('l3', 'SELECT 3'), S()])).toEqual(
      ['1', '1', '1', 'Z:I'],
    );
    expect(await exchange(raw, [P('l4', 'SELECT 4'), B('l1'), E(), S()])).toEqual(['E:53400', 'Z:I']);
    expect(await exchange(raw, [Q('BEGIN')])).toEqual(['C:BEGIN', 'Z:T']);
    raw.write(Buffer.concat([P('l4', 'SELECT 4'), S()]));
    const last = await raw.message();
    expect(last?.type).toBe('E');
    expect(errorFields(last!.body)).toMatchObject({ S: 'FATAL', C: '53400' });
    await raw.closedByServer();
    // The server connection it held, mid-transaction, is not handed to anyone: the next client is served cleanly.
    const next = await session();
    expect(await exchange(next, [Q('SELECT 1 AS ok')])).toEqual(['D:1', 'C:SELECT 1', 'Z:I']);
  });

  it('answers DEALLOCATE after the replies of the queries sent before it', async () => {
    const raw = await session();
    expect(await exchange(raw, [P('d', 'SELECT 7'), S()])).toEqual(['1', 'Z:I']);
    expect(
      await exchange(raw, [Q('SELECT 1 AS slow FROM pg_sleep(0.2)'), Q('DEALLOCATE d'), Q('SELECT 2')], 3),
    ).toEqual(['D:1', 'C:SELECT 1', 'Z:I', 'C:DEALLOCATE', 'Z:I', 'D:2', 'C:SELECT 1', 'Z:I']);
    expect(await exchange(raw, [B('d'), E(), S()])).toEqual(['E:26000', 'Z:I']);
    expect(await exchange(raw, [Q('BEGIN'), Q('SELECT 1/0'), Q('DEALLOCATE ALL'), Q('ROLLBACK')], 4)).toEqual(
      ['C:BEGIN', 'Z:T', 'E:22012', 'Z:E', 'E:25P02', 'Z:E', 'C:ROLLBACK', 'Z:I'],
    );
  });
});
