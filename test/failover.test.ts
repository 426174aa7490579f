import { appendFile, chown, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PoolpilotError, silentLogger } from '../src/core/index.js';
import { serverUser } from '../src/embedded/index.js';
import { createVerifier, formatVerifier } from '../src/wire/scram-verifier.js';
import { WireSurface } from '../src/wire/wire-surface.js';
import { type EmbeddedCluster, run, startEmbeddedCluster } from '../support/postgres-cluster.js';
import { eventually } from './harness/database.js';
import { type RunningPoolpilot, startPoolpilot } from './harness/server.js';

const WIRE_PASSWORD = 'failover wire password';

interface Call {
  id: number;
  via: 'core' | 'wire';
  at: number;
  end: number | null;
  ok: boolean;
  target?: string;
  code?: string;
  message?: string;
}

interface Load {
  calls: Call[];
  reads: Call[];
  /** Stops the workers; false when they did not all come back within 15 s. */
  stop(): Promise<boolean>;
}

/**
 * Three executeQuery writers, one wire-front writer and two readers, each in a loop: every write
 * inserts its own id into `w`, so the servers can be asked afterwards which writes they hold.
 */
function startLoad(pp: RunningPoolpilot, wireClient: () => Promise<pg.Client>): Load {
  const calls: Call[] = [];
  const reads: Call[] = [];
  let nextId = 1;
  let running = true;

  const coreWriter = async () => {
    while (running) {
      const call: Call = { id: nextId++, via: 'core', at: performance.now(), end: null, ok: false };
      calls.push(call);
      try {
        const r = await pp.poolpilot.execute('INSERT INTO w VALUES ($1, $2)', [call.id, 'core']);
        Object.assign(call, { ok: true, target: r.target });
      } catch (error) {
        Object.assign(call, { code: (error as PoolpilotError).code, message: (error as Error).message });
        await new Promise((r) => setTimeout(r, 20));
      }
      call.end = performance.now();
    }
  };
  const wireWriter = async () => {
    let client: pg.Client | null = null;
    while (running) {
      const call: Call = { id: nextId++, via: 'wire', at: performance.now(), end: null, ok: false };
      calls.push(call);
      try {
        client ??= await wireClient();
        await client.query('INSERT INTO w VALUES ($1, $2)', [call.id, 'wire']);
        call.ok = true;
      } catch (error) {
        Object.assign(call, { code: (error as { code?: string }).code, message: (error as Error).message });
        await client?.end().catch(() => undefined);
        client = null;
        await new Promise((r) => setTimeout(r, 20));
      }
      call.end = performance.now();
    }
    await client?.end().catch(() => undefined);
  };
  const reader = async () => {
    while (running) {
      const call: Call = { id: 0, via: 'core', at: performance.now(), end: null, ok: false };
      reads.push(call);
      try {
        const r = await pp.poolpilot.execute('SELECT count(*)::int AS n FROM r');
        Object.assign(call, { ok: r.rows[0]?.n === 100, target: r.target });
      } catch (error) {
        Object.assign(call, { code: (error as PoolpilotError).code, message: (error as Error).message });
        // A refusal with every target down comes back without I/O: without a pause this loop would
        // run on microtasks alone, and no timer (the health check's either) would fire again.
        await new Promise((r) => setTimeout(r, 20));
      }
      call.end = performance.now();
    }
  };
  const workers = [coreWriter(), coreWriter(), coreWriter(), wireWriter(), reader(), reader()];
  return {
    calls,
    reads,
    stop: () => {
      running = false;
      return Promise.race([
        Promise.all(workers).then(() => true),
        new Promise<false>((r) => setTimeout(() => r(false), 15_000)),
      ]);
    },
  };
}

/**
 * A private primary + streaming replica (this file demotes one and promotes the other): writers
 * and readers run through poolpilot, the core API and the wire front, while the primary is made
 * read-only and the replica promoted with pg_promote().
 */
interface FailoverCluster {
  cluster: EmbeddedCluster;
  pp: RunningPoolpilot;
  surface: WireSurface;
  wireClient(): Promise<pg.Client>;
}

/** A private primary + streaming replica, poolpilot over both and its wire front, for one describe block. */
function useFailoverCluster(): FailoverCluster {
  const holder = {} as FailoverCluster;
  beforeAll(async () => {
    holder.cluster = await startEmbeddedCluster({ replica: true });
    const { cluster } = holder;
    await run(cluster.primaryUrl, 'CREATE TABLE w (id int PRIMARY KEY, via text); CREATE TABLE r (n int)');
    await run(cluster.primaryUrl, 'INSERT INTO r SELECT generate_series(1, 100)');
    holder.pp = await startPoolpilot({
      DATABASE_URL: cluster.primaryUrl,
      DB_REPLICA_URLS: cluster.replicaUrl!,
      DB_POOL_MIN: '2',
      DB_POOL_SIZE: '8',
      HEALTH_CHECK_INTERVAL_MS: '200',
      DB_CONN_TIMEOUT: '1000',
      DB_STATEMENT_TIMEOUT: '3000',
      ROUTE_MEDIUM_THRESHOLD: '0',
      WIRE_USERS: `app:${formatVerifier(createVerifier(WIRE_PASSWORD))}`,
    });
    const { pp } = holder;
    await eventually(() => pp.poolpilot.cluster.targets.every((t) => t.isUp), 20_000);
    holder.surface = new WireSurface(
      pp.poolpilot,
      { ...pp.config.wire, port: 0, host: '127.0.0.1' },
      silentLogger,
    );
    await holder.surface.listen();
  });
  afterAll(async () => {
    await holder.surface?.close().catch(() => undefined);
    await holder.pp?.close();
    await holder.cluster?.stop();
  });
  holder.wireClient = async () => {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: holder.surface.listener.address!.port,
      user: 'app',
      password: WIRE_PASSWORD,
      database: 'postgres',
    });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  return holder;
}

/** Every acknowledged write is on `newPrimaryUrl`; failed ones are nowhere. */
async function checkWrites(load: Load, urls: string[], newPrimaryUrl: string): Promise<void> {
  const onNew = new Set((await run(newPrimaryUrl, 'SELECT id FROM w')).rows.map((r) => r.id as number));
  expect(load.calls.filter((c) => c.ok && !onNew.has(c.id))).toEqual([]);
  for (const url of urls) {
    const ids = new Set((await run(url, 'SELECT id FROM w')).rows.map((r) => r.id as number));
    expect(load.calls.filter((c) => !c.ok && ids.has(c.id))).toEqual([]);
  }
}

describe('failover: a promoted replica takes the writes, a split brain takes none', () => {
  const f = useFailoverCluster();
  const readOnly = (on: boolean) =>
    run(
      f.cluster.primaryUrl,
      on
        ? 'ALTER SYSTEM SET default_transaction_read_only = on'
        : 'ALTER SYSTEM RESET default_transaction_read_only',
    ).then(() => run(f.cluster.primaryUrl, 'SELECT pg_reload_conf()'));

  it('leaves a read-only refusal the caller asked for as PostgreSQL gave it', async () => {
    const refused = await f.pp.poolpilot
      .transaction([
        { sql: 'SET LOCAL transaction_read_only = on' },
        { sql: "INSERT INTO w VALUES (-100, 'x')" },
      ])
      .catch((e) => e);
    expect(refused).toMatchObject({ code: 'BAD_SQL', details: { sqlstate: '25006' } });
    expect(f.pp.poolpilot.cluster.writer().name).toBe('primary');
  });

  it('moves writes to the promoted replica: no write lost, none accepted by a read-only server, none hung', async () => {
    const { cluster: targets } = f.pp.poolpilot;
    const { calls, reads, stop } = startLoad(f.pp, f.wireClient);
    await eventually(() => calls.filter((c) => c.ok).length >= 40, 20_000);

    // The primary turns read-only; writes under way when the reload came are let finish, then the
    // replica replays everything it wrote and is promoted.
    const readOnlyAt = performance.now();
    await readOnly(true);
    await eventually(
      async () =>
        (await run(f.cluster.primaryUrl, 'SHOW default_transaction_read_only')).rows[0]
          .default_transaction_read_only === 'on',
    );
    await new Promise((r) => setTimeout(r, 300));
    const lsn = (await run(f.cluster.primaryUrl, 'SELECT pg_current_wal_lsn()::text AS lsn')).rows[0].lsn;
    await eventually(
      async () =>
        (
          await run(f.cluster.replicaUrl!, 'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS caught_up', [
            lsn,
          ])
        ).rows[0].caught_up,
    );
    const promotedAt = performance.now(); // pg_promote() returns when its poll sees recovery over
    const promotedWall = Date.now();
    await run(f.cluster.replicaUrl!, 'SELECT pg_promote()');

    await eventually(() => calls.some((c) => c.ok && c.via === 'core' && c.target === 'replica-1'), 20_000);
    const firstWrite = Math.min(
      ...calls.filter((c) => c.ok && c.target === 'replica-1').map((c) => c.end ?? Number.POSITIVE_INFINITY),
    );
    const afterFirst = () => calls.filter((c) => c.ok && c.at > firstWrite);
    await eventually(() => afterFirst().length >= 40 && afterFirst().some((c) => c.via === 'wire'), 20_000);
    // Nothing hangs: every call comes back within the statement and connection timeouts.
    const settled = await stop();
    const hung = [...calls, ...reads].filter((c) => c.end === null);
    expect(settled).toBe(true);
    expect(hung).toEqual([]);

    // The roles as poolpilot sees them now.
    const [primary, replica] = targets.targets;
    expect(primary!.detectedRole).toBe('replica'); // read-only: serves reads only
    expect(replica!.detectedRole).toBe('primary');
    expect(targets.writer().name).toBe('replica-1');
    const health = await f.pp.gql<any>(
      '{ health { status writer splitBrain targets { name configuredRole detectedRole roleChangedAt } } }',
    );
    expect(health.data.health).toMatchObject({ status: 'OK', writer: 'replica-1', splitBrain: null });
    expect(health.data.health.targets).toMatchObject([
      { name: 'primary', configuredRole: 'PRIMARY', detectedRole: 'REPLICA' },
      { name: 'replica-1', configuredRole: 'REPLICA', detectedRole: 'PRIMARY' },
    ]);
    for (const t of health.data.health.targets) expect(Date.parse(t.roleChangedAt)).toBeGreaterThan(0);
    const info = await f.pp.gql<any>('{ info { targets { name detectedRole configuredRole } } }');
    expect(info.data.info.targets[1]).toEqual({
      name: 'replica-1',
      detectedRole: 'PRIMARY',
      configuredRole: 'REPLICA',
    });
    const metrics = await (await fetch(`${f.pp.url}/metrics`)).text();
    expect(metrics).toMatch(/poolpilot_role_changes_total\{target="primary",role="primary"[^}]*\} 1/);
    expect(metrics).toMatch(/poolpilot_role_changes_total\{target="replica-1",role="replica"[^}]*\} 1/);
    expect(metrics).toMatch(/poolpilot_target_writer\{target="replica-1",role="replica"[^}]*\} 1/);
    const healthJson = (await (await fetch(`${f.pp.url}/health`)).json()) as any;
    expect(healthJson.writer).toBe('replica-1');
    expect(healthJson.targets[0]).toMatchObject({
      name: 'primary',
      role: 'primary',
      detectedRole: 'replica',
    });

    // Server truth: every acknowledged write is on the new primary, and the old one holds nothing
    // the new one lacks (no write was accepted by it once it was read-only).
    const onNew = new Set(
      (await run(f.cluster.replicaUrl!, 'SELECT id FROM w')).rows.map((r) => r.id as number),
    );
    const onOld = (await run(f.cluster.primaryUrl, 'SELECT id FROM w')).rows.map((r) => r.id as number);
    const acked = calls.filter((c) => c.ok);
    expect(acked.filter((c) => !onNew.has(c.id))).toEqual([]);
    expect(onOld.filter((id) => !onNew.has(id))).toEqual([]);
    // Calls that failed wrote nothing anywhere.
    const failed = calls.filter((c) => !c.ok);
    expect(failed.filter((c) => onNew.has(c.id) || onOld.includes(c.id))).toEqual([]);
    // executeQuery's failures are DB_UNAVAILABLE (the read-only refusal mapped), never a BAD_SQL;
    // the wire front passes the server's own refusal (25006) or 08006.
    expect(new Set(failed.filter((c) => c.via === 'core').map((c) => c.code))).toEqual(
      new Set(failed.some((c) => c.via === 'core') ? ['DB_UNAVAILABLE'] : []),
    );
    for (const c of failed.filter((c) => c.via === 'wire')) expect(['25006', '08006']).toContain(c.code);
    expect(reads.filter((c) => !c.ok)).toEqual([]);

    console.log(
      `promotion: replica-1 seen as primary ${f.pp.poolpilot.cluster.replicas[0]!.roleChangedAt!.getTime() - promotedWall} ms and ` +
        `first write on the new primary ${Math.round(firstWrite - promotedAt)} ms after pg_promote() was called ` +
        `(${Math.round(firstWrite - readOnlyAt)} ms after the old primary turned read-only; health interval 200 ms); ` +
        `writes ${calls.length} (acknowledged ${acked.length}, failed ${failed.length}: ` +
        `${failed.filter((c) => c.via === 'core').length} executeQuery DB_UNAVAILABLE, ${failed.filter((c) => c.via === 'wire').length} wire), ` +
        `hung 0, lost 0, accepted by a read-only server 0; reads ${reads.length}, failed 0`,
    );
  });

  it('refuses writes while two servers report being a primary, and resumes once one is demoted', async () => {
    await readOnly(false); // the old primary takes writes again: two primaries
    await eventually(() => f.pp.poolpilot.cluster.splitBrain() !== null, 10_000);

    const refused = await f.pp.poolpilot.execute('INSERT INTO w VALUES (-1, $1)', ['split']).catch((e) => e);
    expect((refused as PoolpilotError).code).toBe('DB_UNAVAILABLE');
    expect((refused as Error).message).toMatch(
      /split brain: both primary and replica-1 report not in recovery; writes are refused/,
    );
    const client = await f.wireClient();
    try {
      const wire = await client.query("INSERT INTO w VALUES (-2, 'split')").catch((e) => e);
      expect(wire).toMatchObject({ code: '08006' });
      expect(wire.message).toMatch(/split brain/);
    } finally {
      await client.end().catch(() => undefined);
    }
    const health = await fetch(`${f.pp.url}/health`);
    expect(health.status).toBe(503);
    const body = (await health.json()) as any;
    expect(body).toMatchObject({ status: 'down', writer: null });
    expect(body.splitBrain).toMatch(/both primary and replica-1/);
    const gql = await f.pp.gql<any>('{ health { status writer splitBrain } }');
    expect(gql.data.health).toMatchObject({ status: 'DOWN', writer: null });
    for (const url of [f.cluster.primaryUrl, f.cluster.replicaUrl!])
      expect((await run(url, 'SELECT count(*)::int AS n FROM w WHERE id < 0')).rows[0].n).toBe(0);

    await readOnly(true);
    await eventually(() => f.pp.poolpilot.cluster.splitBrain() === null, 10_000);
    const resumed = await f.pp.poolpilot.execute('INSERT INTO w VALUES (-3, $1)', ['resumed']);
    expect(resumed.target).toBe('replica-1');
  });
});

describe('failover: the primary stops and the replica is promoted', () => {
  const f = useFailoverCluster();

  it('fails writes fast while there is no primary, then writes on the promoted replica; none hung', async () => {
    const { cluster: targets } = f.pp.poolpilot;
    const load = startLoad(f.pp, f.wireClient);
    await eventually(() => load.calls.filter((c) => c.ok).length >= 40, 20_000);

    const stoppedAt = performance.now();
    await f.cluster.primary.stop(); // a fast shutdown: the standby receives everything first
    await eventually(() => !targets.primary.isUp, 10_000);
    const downAt = performance.now();
    // No server takes writes: they fail (DB_UNAVAILABLE), they do not queue up.
    await eventually(
      () => load.calls.filter((c) => !c.ok && c.via === 'core' && c.at > downAt).length >= 10,
      10_000,
    );
    const promotedAt = performance.now(); // pg_promote() returns when its poll sees recovery over
    const promotedWall = Date.now();
    await run(f.cluster.replicaUrl!, 'SELECT pg_promote()');
    await eventually(
      () => load.calls.some((c) => c.ok && c.via === 'core' && c.target === 'replica-1'),
      20_000,
    );
    const firstWrite = Math.min(
      ...load.calls
        .filter((c) => c.ok && c.target === 'replica-1')
        .map((c) => c.end ?? Number.POSITIVE_INFINITY),
    );
    await eventually(
      () => load.calls.filter((c) => c.ok && c.at > firstWrite && c.via === 'wire').length >= 5,
      20_000,
    );
    const settled = await load.stop();
    expect(settled).toBe(true);
    expect([...load.calls, ...load.reads].filter((c) => c.end === null)).toEqual([]);

    expect(targets.writer().name).toBe('replica-1');
    expect(targets.replicas[0]!.detectedRole).toBe('primary');
    expect(targets.primary.detectedRole).toBe('unknown');
    await checkWrites(load, [f.cluster.replicaUrl!], f.cluster.replicaUrl!);
    const failed = load.calls.filter((c) => !c.ok);
    expect(new Set(failed.filter((c) => c.via === 'core').map((c) => c.code))).toEqual(
      new Set(['DB_UNAVAILABLE']),
    );
    for (const c of failed.filter((c) => c.via === 'wire'))
      expect(c.code ?? 'closed').toMatch(/^(08006|57P01|closed)$/);
    const readsFailed = load.reads.filter((c) => !c.ok);
    console.log(
      `stop + promote: primary marked down ${Math.round(downAt - stoppedAt)} ms after it stopped; ` +
        `replica-1 seen as primary ${targets.replicas[0]!.roleChangedAt!.getTime() - promotedWall} ms and ` +
        `first write on the new primary ${Math.round(firstWrite - promotedAt)} ms after pg_promote() was called; ` +
        `writes ${load.calls.length} (acknowledged ${load.calls.filter((c) => c.ok).length}, failed ${failed.length}, ` +
        `slowest failure ${Math.round(Math.max(0, ...failed.map((c) => (c.end ?? 0) - c.at)))} ms), hung 0, lost 0; ` +
        `reads ${load.reads.length}, failed ${readsFailed.length} (${[...new Set(readsFailed.map((c) => c.code))].join(', ')})`,
    );
  });

  it('serves reads from the former primary once it comes back as a standby of the new one', async () => {
    const { cluster: targets } = f.pp.poolpilot;
    const old = f.cluster.primary;
    // A real demotion: the stopped primary restarts as a standby following the promoted server's
    // timeline (it stopped cleanly before the promotion, so nothing needs rewinding).
    await writeFile(path.join(old.dataDir, 'standby.signal'), '');
    await appendFile(
      path.join(old.dataDir, 'postgresql.auto.conf'),
      `primary_conninfo = 'host=127.0.0.1 port=${f.cluster.replica!.port} user=postgres password=${f.cluster.password}'\n`,
    );
    const user = serverUser();
    if (user) {
      await chown(path.join(old.dataDir, 'standby.signal'), user.uid, user.gid);
      await chown(path.join(old.dataDir, 'postgresql.auto.conf'), user.uid, user.gid);
    }
    await old.start();
    await eventually(() => targets.primary.isUp && targets.primary.replication?.lagMs != null, 20_000);
    expect(targets.primary.detectedRole).toBe('replica');
    expect(targets.writer().name).toBe('replica-1');

    const write = await f.pp.poolpilot.execute('INSERT INTO w VALUES (-10, $1)', ['after the demotion']);
    expect(write.target).toBe('replica-1');
    const read = await eventually(async () => {
      const r = await f.pp.poolpilot.execute(
        'SELECT count(*)::int AS n, pg_is_in_recovery() AS standby FROM w WHERE id = -10',
      );
      return r.target === 'primary' && r.rows[0]?.n === 1 ? r : null;
    }, 20_000);
    expect(read.rows[0]).toEqual({ n: 1, standby: true });
    expect((await f.pp.gql<any>('{ health { status writer } }')).data.health).toEqual({
      status: 'OK',
      writer: 'replica-1',
    });
  });

  it('lists and applies optimizations on the promoted server, and keeps their audit there', async () => {
    const { poolpilot } = f.pp;
    // The configured primary is a standby now: anything written there would be refused as read-only.
    expect(poolpilot.cluster.primary.detectedRole).toBe('replica');
    const list = await poolpilot.optimizer.list();
    expect(list.length).toBeGreaterThan(0);
    const applied = await poolpilot.optimizer.apply(list[0]!.id, { dryRun: true, actor: 'failover test' });
    expect(applied.outcome).toBe('DRY_RUN');
    const onNew = await run(
      f.cluster.replicaUrl!,
      'SELECT count(*)::int AS n FROM poolpilot.optimization_audit WHERE optimization_id = $1',
      [list[0]!.id],
    );
    expect(onNew.rows[0].n).toBe(1);
    const history = await poolpilot.optimizer.history({ optimizationId: list[0]!.id });
    expect(history.map((h) => h.actor)).toEqual(['failover test']);
  });
});
