import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { type PoolpilotError, silentLogger } from '../src/core/index.js';
import { createVerifier, formatVerifier } from '../src/wire/scram-verifier.js';
import { WireSurface } from '../src/wire/wire-surface.js';
import { createTestDatabase, eventually, run, type TestDatabase } from './harness/database.js';
import { FaultProxy } from './harness/fault-proxy.js';
import { type RunningPoolpilot, startPoolpilot } from './harness/server.js';

const { primaryUrl, replicaUrl } = inject('databases');

const CONN_TIMEOUT_MS = 1_000;
const EXECUTE = `mutation($sql: String!) { executeQuery(sql: $sql) { rowCount truncated target } }`;

/**
 * poolpilot reaches each server through an in-process TCP proxy that can delay, stall (swallow
 * bytes, keep sockets open), black-hole or reset its traffic; every connection goes through it
 * (pools, health checks, cancel requests).
 */
describe.runIf(replicaUrl)('network faults between poolpilot and its servers', () => {
  let db: TestDatabase;
  let primaryProxy: FaultProxy;
  let replicaProxy: FaultProxy;

  const poolpilot = async (env: Record<string, string>): Promise<RunningPoolpilot> => {
    const pp = await startPoolpilot({
      DATABASE_URL: primaryProxy.url(db.url(primaryUrl)),
      ADMIN_DATABASE_URL: primaryProxy.url(db.adminUrl(primaryUrl)),
      DB_REPLICA_URLS: replicaProxy.url(db.url(replicaUrl!)),
      DB_POOL_MIN: '2',
      DB_POOL_SIZE: '6',
      HEALTH_CHECK_INTERVAL_MS: '200',
      ROUTE_MEDIUM_THRESHOLD: '0',
      READ_YOUR_WRITES_WINDOW_MS: '0',
      ...env,
    });
    onTestFinished(() => pp.close());
    await eventually(() => pp.poolpilot.cluster.targets.every((t) => t.isUp), 20_000);
    return pp;
  };

  /** `pp`'s wire front on a free port; returns how to connect a client as `app` (both closed after the test). */
  const wireFront = async (pp: RunningPoolpilot): Promise<() => Promise<pg.Client>> => {
    const surface = new WireSurface(
      pp.poolpilot,
      { ...pp.config.wire, port: 0, host: '127.0.0.1' },
      silentLogger,
    );
    await surface.listen();
    onTestFinished(() => surface.close());
    return async () => {
      const client = new pg.Client({
        host: '127.0.0.1',
        port: surface.listener.address!.port,
        user: 'app',
        password: 'wire password',
        database: db.name,
      });
      client.on('error', () => undefined);
      await client.connect();
      onTestFinished(() => client.end().catch(() => undefined));
      return client;
    };
  };

  beforeAll(async () => {
    db = await createTestDatabase(primaryUrl, replicaUrl, 'pp_faults');
    await run(
      db.url(primaryUrl),
      `CREATE TABLE r (id int PRIMARY KEY, v text);
       INSERT INTO r SELECT g, md5(g::text) FROM generate_series(1, 1000) g;
       CREATE TABLE big (id int, pad text);
       INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, 5000) g;`,
    );
    await eventually(
      async () =>
        (await run(db.adminUrl(replicaUrl!), 'SELECT count(*)::int AS n FROM big')).rows[0].n === 5000,
    );
    primaryProxy = await FaultProxy.start(primaryUrl);
    replicaProxy = await FaultProxy.start(replicaUrl!);
  });
  afterAll(async () => {
    await primaryProxy?.close();
    await replicaProxy?.close();
    await db?.drop();
  });

  it('marks a stalled replica down by the check timeout and serves its reads on the primary', async () => {
    primaryProxy.set({ kind: 'pass' });
    replicaProxy.set({ kind: 'pass' });
    const pp = await poolpilot({ DB_CONN_TIMEOUT: String(CONN_TIMEOUT_MS), DB_STATEMENT_TIMEOUT: '2000' });
    const replica = pp.poolpilot.cluster.replicas[0]!;
    await eventually(
      async () => (await pp.poolpilot.execute('SELECT count(*) FROM r')).target === 'replica-1',
    );

    type Outcome = { at: number; end: number; ok: boolean; target?: string; code?: string };
    const outcomes: Outcome[] = [];
    let running = true;
    const reader = async () => {
      while (running) {
        const at = performance.now();
        try {
          const r = await pp.poolpilot.execute('SELECT count(*)::int AS n FROM r');
          expect(r.rows[0]).toEqual({ n: 1000 });
          outcomes.push({ at, end: performance.now(), ok: true, target: r.target });
        } catch (error) {
          outcomes.push({ at, end: performance.now(), ok: false, code: (error as PoolpilotError).code });
          // A fast refusal involves no I/O: pause, or this loop alone would keep the event loop.
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    const readers = Array.from({ length: 4 }, reader);
    await eventually(() => outcomes.filter((o) => o.target === 'replica-1').length >= 20);

    const stalledAt = performance.now();
    replicaProxy.set({ kind: 'drop' });
    await eventually(() => !replica.isUp, 10_000);
    const downAt = performance.now();
    // The check's own timeout marked it down (not a closed socket: the proxy keeps them open).
    expect(replica.health.reason).toMatch(/timeout/i);
    expect(replica.detectedRole).toBe('unknown');
    await eventually(() => outcomes.filter((o) => o.at > downAt && o.ok).length >= 30, 20_000);
    running = false;
    // Every call returns: none hangs on the stalled connections.
    await Promise.all(readers);

    const after = outcomes.filter((o) => o.at > downAt);
    const inFlight = outcomes.filter((o) => o.at <= downAt && o.end > stalledAt);
    expect(after.filter((o) => !o.ok)).toEqual([]);
    expect(new Set(after.map((o) => o.target))).toEqual(new Set(['primary']));
    // Reads caught on the stalled replica end too: retried on the primary, or DB_UNAVAILABLE.
    for (const o of inFlight) expect(o.ok || o.code === 'DB_UNAVAILABLE').toBe(true);
    console.log(
      `stalled replica: marked down ${Math.round(downAt - stalledAt)} ms after the stall ` +
        `(DB_CONN_TIMEOUT ${CONN_TIMEOUT_MS} ms, interval 200 ms); in flight ${inFlight.length} ` +
        `(failed ${inFlight.filter((o) => !o.ok).length}, slowest ${Math.round(Math.max(0, ...inFlight.map((o) => o.end - o.at)))} ms); ` +
        `after: ${after.length} reads, 0 failed`,
    );

    replicaProxy.set({ kind: 'pass' });
    await eventually(() => replica.isUp, 20_000);
    await eventually(
      async () => (await pp.poolpilot.execute('SELECT count(*) FROM r')).target === 'replica-1',
    );
  });

  it("ends a wire client's statement on a stalled replica with an error, then serves on the primary", async () => {
    primaryProxy.set({ kind: 'pass' });
    replicaProxy.set({ kind: 'pass' });
    const pp = await poolpilot({
      DB_CONN_TIMEOUT: String(CONN_TIMEOUT_MS),
      WIRE_USERS: `app:${formatVerifier(createVerifier('wire password'))}`,
    });
    const replica = pp.poolpilot.cluster.replicas[0]!;
    const connect = await wireFront(pp);
    const read = 'SELECT pg_is_in_recovery() AS standby, count(*)::int AS n FROM r, pg_sleep(0.5)';
    const caught = await connect();
    await eventually(async () => (await caught.query(read)).rows[0].standby === true);

    // The statement is under way on the replica when its traffic stalls (sockets kept open).
    const pending = caught.query(read).then(
      () => ({ ok: true as const }),
      (e: { code?: string; message: string }) => ({ ok: false as const, code: e.code, message: e.message }),
    );
    await new Promise((r) => setTimeout(r, 100));
    const stalledAt = performance.now();
    replicaProxy.set({ kind: 'drop' });
    const outcome = await pending;
    const endedAfterMs = performance.now() - stalledAt;
    // Never a success from a server that stopped answering, and never a wait without end.
    expect(outcome.ok).toBe(false);
    if (!outcome.ok && outcome.code !== undefined) expect(outcome.code).toBe('08006');
    expect(replica.isUp).toBe(false);
    // A new client is served by the primary meanwhile.
    const next = await connect();
    const served = await next.query(read);
    expect(served.rows[0]).toEqual({ standby: false, n: 1000 });
    console.log(
      `wire statement on a stalled replica ended with an error ${Math.round(endedAfterMs)} ms after the stall ` +
        `(DB_CONN_TIMEOUT ${CONN_TIMEOUT_MS} ms, interval 200 ms)`,
    );
    replicaProxy.set({ kind: 'pass' });
    await eventually(() => replica.isUp, 20_000);
  });

  it('serves through a 200 ms delay to the primary, with timeouts that still hold', async () => {
    primaryProxy.set({ kind: 'pass' });
    replicaProxy.set({ kind: 'pass' });
    // Every connection, from the first login on, crosses the delay.
    primaryProxy.set({ kind: 'delay', ms: 200 });
    const pp = await poolpilot({ DB_CONN_TIMEOUT: '5000' });
    const primary = pp.poolpilot.cluster.primary;
    const write = await pp.poolpilot.execute('INSERT INTO r VALUES (100001, $1)', ['delayed']);
    expect(write).toMatchObject({ target: 'primary', rowCount: 1 });
    const read = await pp.poolpilot.execute('SELECT v FROM r WHERE id = 100001');
    expect(read.rows).toEqual([{ v: 'delayed' }]);
    // A statement over its own timeout is cancelled (the cancel crosses the delay too) ...
    const slow = await pp.poolpilot.execute('SELECT pg_sleep(5)', [], { timeoutMs: 300 }).catch((e) => e);
    expect((slow as PoolpilotError).code).toBe('QUERY_TIMEOUT');
    // ... and one within it is not, whatever the round trips add.
    const within = await pp.poolpilot.execute('SELECT 1 AS ok FROM pg_sleep(0.1)', [], { timeoutMs: 3_000 });
    expect(within.rows).toEqual([{ ok: 1 }]);
    expect(primary.isUp).toBe(true);
    expect(primary.health.consecutiveFailures).toBe(0);
    primaryProxy.set({ kind: 'pass' });
    await run(db.url(primaryUrl), 'DELETE FROM r WHERE id = 100001');
  });

  it('answers a reset in the middle of a large result with DB_UNAVAILABLE, never a short success', async () => {
    primaryProxy.set({ kind: 'pass' });
    replicaProxy.set({ kind: 'pass' });
    const pp = await poolpilot({
      DB_CONN_TIMEOUT: '5000',
      WIRE_USERS: `app:${formatVerifier(createVerifier('wire password'))}`,
    });
    const big = '/* poolpilot:primary */ SELECT id, pad FROM big';
    const whole = await pp.gql<any>(EXECUTE, { sql: big });
    expect(whole.data.executeQuery).toEqual({ rowCount: 5000, truncated: false, target: 'primary' });

    // GraphQL executeQuery.
    primaryProxy.resetAfter(256 * 1024);
    const cut = await pp.gql<any>(EXECUTE, { sql: big });
    expect(primaryProxy.resets).toBe(1);
    expect(cut.data?.executeQuery ?? null).toBeNull();
    expect(cut.errors?.[0]?.extensions?.code).toBe('DB_UNAVAILABLE');

    // The wire front: the client gets an error, not a short result and CommandComplete.
    const client = await (await wireFront(pp))();
    try {
      expect((await client.query(big)).rowCount).toBe(5000);
      primaryProxy.resetAfter(256 * 1024);
      const failed = await client.query(big).then(
        (r): { rows?: number | null; code?: string; message?: string } => ({ rows: r.rowCount }),
        (e: { code?: string; message: string }) => ({ code: e.code, message: e.message }),
      );
      expect(primaryProxy.resets).toBe(2);
      // Cut between two messages, the front sends FATAL 08006; cut inside a row that was already
      // passing through, the client's framing cannot take another message, so the front closes the
      // connection. Either way an error, never rows followed by CommandComplete.
      expect(failed).not.toHaveProperty('rows');
      if (failed.code !== undefined) expect(failed.code).toBe('08006');
      else expect(failed.message).toMatch(/terminated/);
    } finally {
      await client.end().catch(() => undefined);
    }
    // The service is fine afterwards.
    const again = await pp.gql<any>(EXECUTE, { sql: big });
    expect(again.data.executeQuery.rowCount).toBe(5000);
  });
});
