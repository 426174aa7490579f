import { type ChildProcess, spawn } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { freePort } from '../src/embedded/index.js';
import { createTestDatabase, eventually, type TestDatabase } from './harness/database.js';

const { primaryUrl, replicaUrl } = inject('databases');

const SLEEP_SQL = 'SELECT pg_sleep(1.5) AS slept, 1 AS n';
const EXECUTE = `mutation($sql: String!) { executeQuery(sql: $sql) { rowCount durationMs } }`;

describe('SIGTERM during running queries', () => {
  let db: TestDatabase;
  let child: ChildProcess | null = null;
  beforeAll(async () => {
    db = await createTestDatabase(primaryUrl, replicaUrl);
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await db?.drop();
  });

  /** `npm start`'s entry point against the test database; its JSON log lines as they come. */
  async function start(extraEnv: Record<string, string> = {}) {
    const port = await freePort();
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: {
        WIRE_PORT: '0', // several services may run at once here
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATABASE_URL: db.url(primaryUrl),
        PORT: String(port),
        LOG_LEVEL: 'info',
        DB_POOL_MIN: '1',
        DB_POOL_SIZE: '6',
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let out = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    const lines = () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, any>);
    await eventually(() => lines().some((l) => String(l.msg).startsWith('poolpilot listening')), 60_000, 100);
    return { proc, port, url: `http://127.0.0.1:${port}`, out: () => out, lines, exited };
  }
  const execute = (url: string, sql: string) =>
    fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: EXECUTE, variables: { sql } }),
    }).then(async (res) => ({ status: res.status, body: (await res.json()) as any }));

  it('lets them finish, closes sockets with 1001 and exits 0', async () => {
    const { proc, port, url, out, lines, exited } = await start({ SHUTDOWN_GRACE_MS: '20000' });
    const summary = lines().find((l) => String(l.msg).startsWith('poolpilot listening'))!;
    expect(summary).toMatchObject({ embedded: false, pool: { min: 1, max: 6 } });
    expect(summary.targets[0]).toMatchObject({ name: 'primary', status: 'up' });
    const password = new URL(primaryUrl).password;
    if (password) expect(out()).not.toContain(password);

    // A WebSocket client: one operation in flight, and the socket's close code recorded.
    const ws = new WebSocket(`ws://127.0.0.1:${port}/graphql`, 'graphql-transport-ws');
    const wsMessages: any[] = [];
    const wsClosed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.on('message', (data) => wsMessages.push(JSON.parse(String(data))));
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    await eventually(() => wsMessages.some((m) => m.type === 'connection_ack'));
    ws.send(
      JSON.stringify({
        id: 'ws-1',
        type: 'subscribe',
        payload: { query: EXECUTE, variables: { sql: SLEEP_SQL } },
      }),
    );

    const http = Array.from({ length: 3 }, () => execute(url, SLEEP_SQL));

    // All four statements are running on the server before the signal.
    const watcher = new pg.Client({ connectionString: db.url(primaryUrl) });
    await watcher.connect();
    try {
      await eventually(async () => {
        const { rows } = await watcher.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT pg_sleep(1.5)%'`,
        );
        return rows[0].n === 4;
      }, 20_000);
    } finally {
      await watcher.end();
    }
    proc.kill('SIGTERM');
    await eventually(() => lines().some((l) => String(l.msg).startsWith('shutting down')));
    // No new connections once draining has begun.
    await expect(fetch(`${url}/health`)).rejects.toThrow();

    for (const { status, body } of await Promise.all(http)) {
      expect(status).toBe(200);
      expect(body.errors).toBeUndefined();
      expect(body.data.executeQuery.rowCount).toBe(1);
      expect(body.data.executeQuery.durationMs).toBeGreaterThanOrEqual(1_400);
    }
    expect(await wsClosed).toBe(1001);
    const next = wsMessages.find((m) => m.id === 'ws-1' && m.type === 'next');
    expect(next?.payload.data.executeQuery.rowCount).toBe(1);
    expect(wsMessages.some((m) => m.id === 'ws-1' && m.type === 'complete')).toBe(true);

    expect(await exited).toBe(0);
    child = null;
    expect(lines().find((l) => l.msg === 'stopped')).toMatchObject({ drained: true });
  });

  it('cuts off work still running after SHUTDOWN_GRACE_MS and still exits 0', async () => {
    const { proc, url, lines, exited } = await start({ SHUTDOWN_GRACE_MS: '300' });
    const long = execute(url, 'SELECT pg_sleep(20)').catch((error: Error) => ({
      status: 0,
      body: { error },
    }));
    await eventually(() => pendingSleep(), 20_000);
    const signalled = Date.now();
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    child = null;
    // Cancelled on the server rather than waited for.
    expect(Date.now() - signalled).toBeLessThan(15_000);
    const answer = await long;
    expect(answer.body.data?.executeQuery).toBeUndefined();
    expect(lines().find((l) => String(l.msg).startsWith('grace period over'))).toMatchObject({ inFlight: 1 });
    expect(lines().find((l) => l.msg === 'stopped')).toMatchObject({ drained: false });
    await eventually(async () => !(await pendingSleep()), 20_000);
  });

  async function pendingSleep(): Promise<boolean> {
    const watcher = new pg.Client({ connectionString: db.url(primaryUrl) });
    await watcher.connect();
    try {
      const { rows } = await watcher.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query = 'SELECT pg_sleep(20)'`,
      );
      return rows[0].n > 0;
    } finally {
      await watcher.end();
    }
  }
});
