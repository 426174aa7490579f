import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../src/embedded/index.js';
import { eventually } from './harness/database.js';

interface Started {
  child: ChildProcess;
  port: number;
  lines: () => Record<string, any>[];
  exited: Promise<number | null>;
}

const running = new Set<ChildProcess>();

/** `npm start`'s entry point with nothing configured but where to keep the embedded data. */
async function start(dataDir: string): Promise<Started> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      WIRE_PORT: '0', // several services may run at once here
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: String(port),
      EMBEDDED_PG_DATA: dataDir,
      EMBEDDED_PG_PORT: String(await freePort()),
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  const lines = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
  await eventually(() => lines().some((l) => String(l.msg).startsWith('poolpilot listening')), 60_000, 100);
  return { child, port, lines, exited };
}

async function info(port: number) {
  const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ info { embedded postgresVersion } poolStats { total min max } }' }),
  });
  return ((await res.json()) as any).data;
}

function postmasterRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm start with nothing configured', () => {
  const dirs: string[] = [];
  // A failed test still stops what it started: SIGTERM lets poolpilot stop its embedded server
  // (SIGKILL would orphan it); SIGKILL only if that does not end it in time.
  afterEach(async () => {
    await Promise.all(
      [...running].map(
        (child) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
  });
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('serves real figures from an embedded PostgreSQL 16, keeps its data, and stops it on SIGINT', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'poolpilot-start-'));
    dirs.push(dir);
    await chmod(dir, 0o755); // mkdtemp makes it private; the PostgreSQL OS user must reach it
    const dataDir = path.join(dir, 'data');

    const first = await start(dataDir);
    const data = await info(first.port);
    expect(data.info).toEqual({ embedded: true, postgresVersion: expect.stringMatching(/^16\./) });
    expect(data.poolStats).toMatchObject({ min: 5, max: 20 });
    await eventually(async () => (await info(first.port)).poolStats.total >= 5);

    const pgPort = first.lines().find((l) => l.msg === 'embedded PostgreSQL 16 started')!.port;
    const password = (await readFile(path.join(dataDir, 'superuser-password'), 'utf8')).trim();
    const url = `postgres://postgres:${password}@127.0.0.1:${pgPort}/postgres`;
    const client = new pg.Client(url);
    await client.connect();
    await client.query('CREATE TABLE kept (v text)');
    await client.query("INSERT INTO kept VALUES ('across restarts')");
    const { rows } = await client.query(
      "SELECT extname FROM pg_extension WHERE extname = 'pg_stat_statements'",
    );
    expect(rows).toHaveLength(1);
    // Callers' statements run as `app`, which owns the application database and nothing else;
    // poolpilot's own schema belongs to the superuser (the control plane).
    const pooled = await client.query(
      `SELECT DISTINCT a.usename, r.rolsuper, r.rolcreaterole, r.rolcreatedb
         FROM pg_stat_activity a JOIN pg_roles r ON r.rolname = a.usename
        WHERE a.datname = 'app' AND a.application_name = 'poolpilot'`,
    );
    expect(pooled.rows).toEqual([
      { usename: 'app', rolsuper: false, rolcreaterole: false, rolcreatedb: false },
    ]);
    const owners = await client.query(
      `SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'app'`,
    );
    expect(owners.rows).toEqual([{ owner: 'app' }]);
    const passwordFile = path.join(dataDir, 'app-password');
    expect((await stat(passwordFile)).mode & 0o777).toBe(0o600);
    const app = new pg.Client(
      `postgres://app:${(await readFile(passwordFile, 'utf8')).trim()}@127.0.0.1:${pgPort}/app`,
    );
    await app.connect();
    const schema = await app.query(
      `SELECT pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = 'poolpilot'`,
    );
    expect(schema.rows).toEqual([{ owner: 'postgres' }]);
    await expect(app.query('DROP SCHEMA poolpilot CASCADE')).rejects.toThrow(/must be owner/);
    // The first start, which ran initdb, seeded the README's demo tables, owned by `app`.
    const demo = await app.query(
      'SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM orders)::int AS orders, (SELECT count(*) FROM accounts)::int AS accounts',
    );
    expect(demo.rows[0]).toEqual({ users: 50_000, orders: 500_000, accounts: 50_000 });
    expect(first.lines().some((l) => l.msg === 'demo tables users, orders, accounts created')).toBe(true);
    await app.query('DELETE FROM accounts WHERE id > 10');
    await app.end();
    await client.end();
    const pid = Number((await readFile(path.join(dataDir, 'pg16', 'postmaster.pid'), 'utf8')).split('\n')[0]);

    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    expect(postmasterRunning(pid)).toBe(false);
    expect(existsSync(path.join(dataDir, 'pg16', 'postmaster.pid'))).toBe(false);

    const second = await start(dataDir);
    const secondPort = second.lines().find((l) => l.msg === 'embedded PostgreSQL 16 started')!.port;
    const again = new pg.Client(`postgres://postgres:${password}@127.0.0.1:${secondPort}/postgres`);
    await again.connect();
    expect((await again.query('SELECT v FROM kept')).rows).toEqual([{ v: 'across restarts' }]);
    // Later starts leave the demo tables as they were.
    const appAgain = new pg.Client(`postgres://postgres:${password}@127.0.0.1:${secondPort}/app`);
    await appAgain.connect();
    expect((await appAgain.query('SELECT count(*)::int AS n FROM accounts')).rows[0].n).toBe(10);
    await appAgain.end();
    expect(second.lines().some((l) => String(l.msg).startsWith('demo tables'))).toBe(false);
    await again.end();
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 180_000); // two starts and an initdb: minutes when the rest of the suite shares the two cores

  it.runIf(userInfo().uid === 0)(
    'falls back to a reachable folder when the PostgreSQL user cannot reach the data folder',
    async () => {
      const closed = await mkdtemp(path.join(tmpdir(), 'poolpilot-closed-'));
      dirs.push(closed);
      await chmod(closed, 0o700); // like a checkout under /root
      const started = await start(path.join(closed, '.data'));
      const warning = started.lines().find((l) => l.level === 40 && String(l.msg).includes('cannot reach'));
      expect(warning?.using).toMatch(/poolpilot-data-/);
      dirs.push(warning!.using);
      expect((await info(started.port)).info.embedded).toBe(true);
      started.child.kill('SIGTERM');
      expect(await started.exited).toBe(0);
    },
  );
});
