import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/core/index.js';
import { createApp } from '../src/server/app.js';
import { createVerifier, formatVerifier } from '../src/wire/scram-verifier.js';
import { eventually } from './harness/database.js';
import { psql, useWire, WIRE_PASSWORD, WIRE_USER } from './harness/wire.js';

const OPS = 'ops';
const WATCH = 'watch';
const PASSWORD = 'console password';
const dir = mkdtempSync(join(tmpdir(), 'pp-console-'));
const usersFile = join(dir, 'users.txt');
const line = (name: string, password: string) =>
  `${name}:${formatVerifier(createVerifier(password, { iterations: 4096 }))}`;
writeFileSync(
  usersFile,
  [line(WIRE_USER, WIRE_PASSWORD), line(OPS, PASSWORD), line(WATCH, PASSWORD)].join('\n'),
);

const wire = useWire(
  {
    WIRE_USERS: usersFile,
    WIRE_ADMIN_USERS: OPS,
    WIRE_STATS_USERS: WATCH,
    DB_POOL_MIN: '1',
    DB_POOL_SIZE: '4',
  },
  { replica: true, prefix: 'pp_console' },
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** PgBouncer's column lists (src/admin.c, src/stats.c), as pgbouncer_exporter and others read them. */
const POOLS = [
  'database',
  'user',
  'cl_active',
  'cl_waiting',
  'cl_active_cancel_req',
  'cl_waiting_cancel_req',
  'sv_active',
  'sv_active_cancel',
  'sv_being_canceled',
  'sv_idle',
  'sv_used',
  'sv_tested',
  'sv_login',
  'maxwait',
  'maxwait_us',
  'pool_mode',
  'load_balance_hosts',
];
const STATS = [
  'database',
  'total_server_assignment_count',
  'total_xact_count',
  'total_query_count',
  'total_received',
  'total_sent',
  'total_xact_time',
  'total_query_time',
  'total_wait_time',
  'avg_server_assignment_count',
  'avg_xact_count',
  'avg_query_count',
  'avg_recv',
  'avg_sent',
  'avg_xact_time',
  'avg_query_time',
  'avg_wait_time',
];
const DATABASES = [
  'name',
  'host',
  'port',
  'database',
  'force_user',
  'pool_size',
  'min_pool_size',
  'reserve_pool_size',
  'server_lifetime',
  'pool_mode',
  'load_balance_hosts',
  'max_connections',
  'current_connections',
  'max_client_connections',
  'current_client_connections',
  'paused',
  'disabled',
];
const SOCKETS = [
  'type',
  'user',
  'database',
  'replication',
  'state',
  'addr',
  'port',
  'local_addr',
  'local_port',
  'connect_time',
  'request_time',
  'wait',
  'wait_us',
  'close_needed',
  'ptr',
  'link',
  'remote_pid',
  'tls',
  'application_name',
  'prepared_statements',
  'id',
];

async function connect(user: string, database = 'pgbouncer', password = PASSWORD): Promise<pg.Client> {
  const c = new pg.Client({ ...wire.front.connection, user, password, database });
  c.on('error', () => {});
  await c.connect();
  return c;
}

async function appClient(): Promise<pg.Client> {
  const c = new pg.Client(wire.front.connection);
  c.on('error', () => {});
  await c.connect();
  return c;
}

async function show(client: pg.Client, what: string) {
  return client.query({ text: `SHOW ${what}`, queryMode: 'simple' } as pg.QueryConfig);
}

function consoleEnv(user: string, database = 'pgbouncer'): Record<string, string> {
  return { ...wire.front.libpqEnv, PGUSER: user, PGPASSWORD: PASSWORD, PGDATABASE: database };
}

describe('admin console: SHOW with PgBouncer columns, figures from the core', () => {
  it('answers psql on both virtual databases, with PgBouncer column names', async () => {
    for (const database of ['pgbouncer', 'poolpilot']) {
      const out = await psql(consoleEnv(OPS, database), 'SHOW POOLS');
      expect(out.stderr).toBe('');
      expect(out.code).toBe(0);
      const rows = out.stdout.trim().split('\n');
      expect(rows.map((r) => r.split('|')[0])).toEqual(['primary', 'replica-1']);
    }
    const help = await psql(consoleEnv(WATCH), 'SHOW HELP');
    expect(help.code).toBe(0);
    expect(help.stderr).toMatch(/NOTICE: {2}Console usage[\s\S]*PAUSE \[<db>\]/);
  });

  it('has the column lists and types pgbouncer_exporter reads (STATS, POOLS, DATABASES, LISTS, CONFIG)', async () => {
    const c = await connect(WATCH);
    try {
      // As pgbouncer_exporter sends them (lib/pq, simple protocol, with the semicolon).
      const totals = await c.query('SHOW STATS_TOTALS;');
      expect(totals.fields.map((f) => f.name)).toEqual([
        'database',
        'server_assignment_count',
        'xact_count',
        'query_count',
        'bytes_received',
        'bytes_sent',
        'xact_time',
        'query_time',
        'wait_time',
      ]);
      expect((await c.query('SHOW STATS_AVERAGES;')).fields.map((f) => f.name)).toEqual(
        totals.fields.map((f) => f.name),
      );
      const pools = await show(c, 'POOLS');
      expect(pools.fields.map((f) => f.name)).toEqual(POOLS);
      expect(pools.fields.find((f) => f.name === 'cl_active')?.dataTypeID).toBe(23);
      const stats = await show(c, 'STATS');
      expect(stats.fields.map((f) => f.name)).toEqual(STATS);
      expect(stats.fields.slice(1).every((f) => f.dataTypeID === 20)).toBe(true);
      const databases = await show(c, 'DATABASES');
      expect(databases.fields.map((f) => f.name)).toEqual(DATABASES);
      expect(databases.rows.map((r) => [r.name, r.database, r.pool_size])).toEqual([
        ['primary', wire.front.database, 4],
        ['replica-1', wire.front.database, 4],
      ]);
      const lists = await show(c, 'LISTS');
      expect(lists.fields.map((f) => f.name)).toEqual(['list', 'items']);
      expect(Object.fromEntries(lists.rows.map((r) => [r.list, r.items]))).toMatchObject({
        databases: 2,
        pools: 2,
        users: 3,
      });
      const config = await show(c, 'CONFIG');
      expect(config.fields.map((f) => f.name)).toEqual(['key', 'value', 'default', 'changeable']);
      const settings = Object.fromEntries(config.rows.map((r) => [r.key, r.value]));
      expect(settings).toMatchObject({
        pool_mode: 'transaction',
        default_pool_size: '4',
        min_pool_size: '1',
      });
      expect(settings.admin_users).toBe(OPS);
      const version = await show(c, 'VERSION');
      expect(version.rows[0].version).toMatch(/^poolpilot \d+\.\d+\.\d+/);
      for (const what of ['CLIENTS', 'SERVERS']) {
        expect((await show(c, what)).fields.map((f) => f.name)).toEqual(SOCKETS);
      }
    } finally {
      await c.end();
    }
  });

  it('SHOW STATS, POOLS, CLIENTS and SERVERS match poolStats and the clients the core knows', async () => {
    const app = await appClient();
    const admin = await connect(OPS);
    const yoga = createApp(wire.front.pp.poolpilot, wire.front.pp.config, silentLogger);
    try {
      for (let i = 0; i < 5; i++) await app.query('SELECT $1::int AS n', [i]);
      await app.query('BEGIN');
      await app.query({ name: 'held', text: 'SELECT 1' });
      // Figures read one after the other agree only while nothing moves: no connection being opened.
      await eventually(() =>
        wire.front.pp.poolpilot.cluster.targets.every((t) => t.pool.state().connecting === 0),
      );
      const stats = Object.fromEntries((await show(admin, 'STATS')).rows.map((r) => [r.database, r]));
      const pools = Object.fromEntries((await show(admin, 'POOLS')).rows.map((r) => [r.database, r]));
      const clients = (await show(admin, 'CLIENTS')).rows;
      const servers = (await show(admin, 'SERVERS')).rows;
      const res = await yoga.yoga.fetch('http://127.0.0.1/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          query: `{ poolStats { targets { name active idle resetting waiting total
            clients { active } traffic { serverAssignments transactions statements bytesReceived bytesSent } } } }`,
        }),
      });
      const body = (await res.json()) as {
        data: { poolStats: { targets: Record<string, number & Record<string, number>>[] } };
      };
      for (const t of body.data.poolStats.targets) {
        const name = t.name as unknown as string;
        const s = stats[name];
        const p = pools[name];
        expect(Number(s.total_server_assignment_count)).toBe(t.traffic!.serverAssignments);
        expect(Number(s.total_xact_count)).toBe(t.traffic!.transactions);
        expect(Number(s.total_query_count)).toBe(t.traffic!.statements);
        expect(Number(s.total_received)).toBe(t.traffic!.bytesReceived);
        expect(Number(s.total_sent)).toBe(t.traffic!.bytesSent);
        expect(p.cl_active).toBe(t.clients!.active);
        expect(p.sv_active + p.sv_tested).toBe(t.active);
        expect(p.sv_idle).toBe(t.idle);
        expect(p.cl_waiting).toBe(t.waiting);
        expect(servers.filter((r) => r.database === name)).toHaveLength(t.total as unknown as number);
      }
      // Five finished units of work went to the primary; the open transaction holds a primary
      // connection and counts once it is over, as PgBouncer counts a transaction when it ends.
      expect(pools.primary.cl_active).toBe(1);
      expect(Number(stats.primary.total_xact_count)).toBe(5);
      expect(Number(stats.primary.total_query_count)).toBe(5);
      expect(Number(stats.primary.total_server_assignment_count)).toBe(6);
      const mine = clients.find((r) => r.user === WIRE_USER && r.state === 'active');
      expect(mine).toMatchObject({ type: 'C', database: wire.front.database, link: 'primary', tls: '' });
      expect(Number(mine?.prepared_statements)).toBe(1);
      expect(clients.filter((r) => r.database === 'pgbouncer')).toHaveLength(1);
      const active = servers.find((r) => r.database === 'primary' && r.state === 'active');
      const pids = await app.query('SELECT pg_backend_pid() AS pid');
      expect(active?.remote_pid).toBe(pids.rows[0].pid);
      await app.query('COMMIT');
    } finally {
      await app.end();
      await admin.end();
    }
  });

  it('SHOW ROUTES counts routes by class and target; SHOW REPLICATION shows lag per replica', async () => {
    const admin = await connect(WATCH);
    try {
      const routes = (await show(admin, 'ROUTES')).rows;
      expect(routes.map((r) => ({ ...r, count: Number(r.count), queued: Number(r.queued) }))).toEqual(
        wire.front.pp.poolpilot.router.taken.list().map((r) => ({ ...r, class: r.class.toLowerCase() })),
      );
      expect(routes.find((r) => r.target === 'primary' && Number(r.count) > 0)).toBeTruthy();
      const replication = await eventually(async () => {
        const rows = (await show(admin, 'REPLICATION')).rows;
        return rows[0]?.lag_bytes !== null ? rows : null;
      });
      expect(replication).toHaveLength(1);
      expect(replication[0]).toMatchObject({ name: 'replica-1', status: 'up' });
      expect(Number(replication[0].lag_bytes)).toBeGreaterThanOrEqual(0);
    } finally {
      await admin.end();
    }
  });
});

describe('admin console: who may use it', () => {
  it('lets a stats user SHOW but not PAUSE (42501 admin access needed)', async () => {
    const watch = await connect(WATCH);
    try {
      await expect(show(watch, 'POOLS')).resolves.toBeTruthy();
      for (const command of ['PAUSE', 'RESUME', 'RECONNECT', 'KILL primary', 'RELOAD']) {
        await expect(watch.query(command)).rejects.toMatchObject({
          code: '42501',
          message: 'admin access needed',
        });
      }
      expect(wire.front.pp.poolpilot.cluster.primary.pool.paused).toBe(false);
    } finally {
      await watch.end();
    }
  });

  it('refuses a user that is neither admin nor stats user (42501), and bad commands with 42601', async () => {
    await expect(connect(WIRE_USER, 'pgbouncer', WIRE_PASSWORD)).rejects.toMatchObject({ code: '42501' });
    const out = await psql(consoleEnv(OPS), 'SHOW NONSENSE');
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(/invalid command 'SHOW NONSENSE', use SHOW HELP;/);
    const ops = await connect(OPS);
    try {
      await expect(ops.query('PAUSE nosuchdb')).rejects.toMatchObject({ code: '3D000' });
      await expect(ops.query('RESUME')).rejects.toMatchObject({ code: '55000' });
      await expect(ops.query('SELECT 1 + 1')).rejects.toMatchObject({ code: '42601' });
      // What some drivers send on connecting, answered as PgBouncer's console answers it.
      expect((await ops.query('SHOW client_encoding')).rows).toEqual([{ client_encoding: 'UTF8' }]);
      await expect(ops.query("SET extra_float_digits = '3'")).resolves.toBeTruthy();
      await expect(ops.query('SET default_pool_size = 9')).rejects.toMatchObject({ code: '0A000' });
    } finally {
      await ops.end();
    }
  });
});

describe('admin console: PAUSE, RESUME, RECONNECT, KILL, RELOAD', () => {
  it('PAUSE waits for the transaction in flight, then holds new ones back until RESUME', async () => {
    const app = await appClient();
    const other = await appClient();
    const ops = await connect(OPS);
    const watch = await connect(WATCH);
    try {
      await app.query('BEGIN');
      await app.query('SELECT 1');
      let paused = false;
      const pausing = ops.query('PAUSE').then(() => {
        paused = true;
      });
      // The pools stop handing out connections at once; PAUSE itself answers once the transaction is over.
      await eventually(() => wire.front.pp.poolpilot.cluster.targets.every((t) => t.pool.paused));
      const inside = await app.query('SELECT 2 AS n');
      expect(inside.rows[0].n).toBe(2);
      expect(paused).toBe(false);
      let answered = false;
      const blocked = other.query('SELECT 3 AS n').then((r) => {
        answered = true;
        return r;
      });
      await eventually(async () => {
        const pools = (await show(watch, 'POOLS')).rows;
        return pools.some((p) => p.cl_waiting > 0);
      });
      await app.query('COMMIT');
      await pausing;
      expect(paused).toBe(true);
      const databases = (await show(watch, 'DATABASES')).rows;
      expect(databases.every((d) => d.paused === 1)).toBe(true);
      expect(answered).toBe(false);
      await ops.query('RESUME');
      expect((await blocked).rows[0].n).toBe(3);
    } finally {
      for (const c of [app, other, ops, watch]) await c.end();
    }
  });

  it('RECONNECT replaces every server connection', async () => {
    const ops = await connect(OPS);
    const app = await appClient();
    try {
      await app.query('SELECT 1');
      const before = (await show(ops, 'SERVERS')).rows.map((r) => r.remote_pid);
      expect(before.length).toBeGreaterThan(0);
      await ops.query('RECONNECT');
      const pid = (await app.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      expect(before).not.toContain(pid);
      const after = await eventually(async () => {
        const pids = (await show(ops, 'SERVERS')).rows.map((r) => r.remote_pid);
        return pids.length > 0 && pids.every((p) => !before.includes(p)) ? pids : null;
      });
      expect(after).toContain(pid);
    } finally {
      await app.end();
      await ops.end();
    }
  });

  it('KILL drops the clients of a database and leaves it paused; KILL_CLIENT drops one', async () => {
    const ops = await connect(OPS);
    const first = await appClient();
    const second = await appClient();
    try {
      await first.query('BEGIN');
      await first.query('SELECT 1');
      const closed = new Promise<void>((resolve) => first.once('end', () => resolve()));
      await ops.query('KILL primary');
      await expect(first.query('SELECT 2')).rejects.toThrow();
      await closed;
      // The idle client was not on the primary: it stays, and waits until RESUME.
      let answered = false;
      const waiting = second.query('SELECT 4 AS n').then((r) => {
        answered = true;
        return r;
      });
      await eventually(() => wire.front.pp.poolpilot.cluster.primary.pool.state().waiting > 0);
      expect(answered).toBe(false);
      await ops.query('RESUME primary');
      expect((await waiting).rows[0].n).toBe(4);

      const id = (await show(ops, 'CLIENTS')).rows.find(
        (r) => r.user === WIRE_USER && r.database === wire.front.database,
      )?.id;
      const gone = new Promise<void>((resolve) => second.once('end', () => resolve()));
      await ops.query(`KILL_CLIENT ${id}`);
      await gone;
      await expect(ops.query(`KILL_CLIENT ${id}`)).rejects.toMatchObject({ code: '42704' });
    } finally {
      for (const c of [first, second, ops]) await c.end().catch(() => undefined);
    }
  });

  it('RELOAD reads the WIRE_USERS file again', async () => {
    await expect(connect('late', 'pgbouncer', 'late password')).rejects.toMatchObject({ code: '28P01' });
    const ops = await connect(OPS);
    try {
      writeFileSync(
        usersFile,
        [
          line(WIRE_USER, WIRE_PASSWORD),
          line(OPS, PASSWORD),
          line(WATCH, PASSWORD),
          line('late', 'late password'),
        ].join('\n'),
      );
      const notices: string[] = [];
      ops.on('notice', (n) => notices.push(n.message ?? ''));
      await ops.query('RELOAD');
      expect(notices.join()).toMatch(/WIRE_USERS \(4 users\)/);
      const late = await connect('late', wire.front.database, 'late password');
      expect((await late.query('SELECT 1 AS one')).rows[0].one).toBe(1);
      await late.end();
    } finally {
      await ops.end();
    }
  });
});

describe('the same actions in GraphQL, for admins', () => {
  async function gql(token: string, query: string) {
    const app = createApp(
      wire.front.pp.poolpilot,
      {
        ...wire.front.pp.config,
        tokens: [
          { role: 'viewer', token: 'viewer-token' },
          { role: 'admin', token: 'admin-token' },
        ],
      },
      silentLogger,
    );
    const res = await app.yoga.fetch('http://127.0.0.1/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query }),
    });
    return (await res.json()) as {
      data?: Record<string, unknown>;
      errors?: { message: string; extensions?: { code?: string } }[];
    };
  }

  it('pausePool, resumePool, reconnectPool and killClient act on the core; a viewer is FORBIDDEN', async () => {
    const forbidden = await gql('viewer-token', 'mutation { pausePool { paused } }');
    expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(wire.front.pp.poolpilot.cluster.primary.pool.paused).toBe(false);

    const paused = await gql(
      'admin-token',
      'mutation { pausePool(target: "replica-1") { paused replicas { name paused } primary { paused } } }',
    );
    expect(paused.data?.pausePool).toEqual({
      paused: false,
      replicas: [{ name: 'replica-1', paused: true }],
      primary: { paused: false },
    });
    const again = await gql('admin-token', 'mutation { pausePool(target: "replica-1") { paused } }');
    expect(again.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const resumed = await gql('admin-token', 'mutation { resumePool { replicas { paused } } }');
    expect(resumed.data?.resumePool).toEqual({ replicas: [{ paused: false }] });
    const unknown = await gql('admin-token', 'mutation { reconnectPool(target: "nope") { total } }');
    expect(unknown.errors?.[0]?.message).toMatch(/no such database: nope/);

    const app = await appClient();
    try {
      await app.query('SELECT 1');
      const before = (await app.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      const reconnected = await gql('admin-token', 'mutation { reconnectPool(target: "primary") { total } }');
      expect(reconnected.errors).toBeUndefined();
      expect((await app.query('SELECT pg_backend_pid() AS pid')).rows[0].pid).not.toBe(before);

      const clients = await gql('admin-token', '{ clients { id user } }');
      const id = ((clients.data?.clients ?? []) as { id: number; user: string }[]).find(
        (c) => c.user === WIRE_USER,
      )!.id;
      const gone = new Promise<void>((resolve) => app.once('end', () => resolve()));
      const killed = await gql('admin-token', `mutation { killClient(id: ${id}) }`);
      expect(killed.data?.killClient).toBe(true);
      await gone;
      const missing = await gql('admin-token', `mutation { killClient(id: ${id}) }`);
      expect(missing.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    } finally {
      await app.end().catch(() => undefined);
    }
  });
});
