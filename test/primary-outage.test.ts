import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PoolpilotError } from '../src/core/index.js';
import { type EmbeddedCluster, startEmbeddedCluster } from '../support/postgres-cluster.js';
import { eventually } from './harness/database.js';
import { type RunningPoolpilot, startPoolpilot } from './harness/server.js';

const CONN_TIMEOUT_MS = 2_000;

describe('the primary stops mid-load and comes back', () => {
  let cluster: EmbeddedCluster;
  let pp: RunningPoolpilot;

  beforeAll(async () => {
    cluster = await startEmbeddedCluster();
    pp = await startPoolpilot({
      DATABASE_URL: cluster.primaryUrl,
      DB_POOL_MIN: '2',
      DB_POOL_SIZE: '5',
      DB_CONN_TIMEOUT: String(CONN_TIMEOUT_MS),
      HEALTH_CHECK_INTERVAL_MS: '300',
    });
  });
  afterAll(async () => {
    await pp?.close();
    await cluster?.stop();
  });

  it('fails fast with DB_UNAVAILABLE, reports down, and recovers without a restart', async () => {
    const pool = pp.poolpilot.cluster.primary.pool;
    const outcomes: { ok: boolean; code?: string; ms: number; at: number }[] = [];
    let running = true;
    const worker = async () => {
      while (running) {
        const started = performance.now();
        try {
          await pool.query('SELECT pg_sleep(0.02)');
          outcomes.push({ ok: true, ms: performance.now() - started, at: started });
        } catch (error) {
          outcomes.push({
            ok: false,
            code: (error as PoolpilotError).code,
            ms: performance.now() - started,
            at: started,
          });
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    await eventually(() => outcomes.filter((o) => o.ok).length >= 50);

    const stoppedAt = performance.now();
    await cluster.primary.stop();
    await eventually(() => outcomes.filter((o) => !o.ok && o.at > stoppedAt).length >= 20);

    const health = await fetch(`${pp.url}/health`);
    expect(health.status).toBe(503);
    expect(((await health.json()) as any).status).toBe('down');
    const gql = await pp.gql('{ health { status targets { name status reason } } }');
    expect((gql.data as any).health.status).toBe('DOWN');
    expect((gql.data as any).health.targets[0].reason).toBeTruthy();

    const failures = outcomes.filter((o) => !o.ok);
    expect(new Set(failures.map((f) => f.code))).toEqual(new Set(['DB_UNAVAILABLE']));
    // Every call that started after the stop failed within the connection timeout (plus scheduling slack).
    const late = failures.filter((f) => f.at > stoppedAt);
    expect(Math.max(...late.map((f) => f.ms))).toBeLessThan(CONN_TIMEOUT_MS + 1_000);

    const restartedAt = performance.now();
    await cluster.primary.start();
    await eventually(
      async () => ((await (await fetch(`${pp.url}/health`)).json()) as any).status === 'ok',
      20_000,
    );
    await eventually(() => outcomes.filter((o) => o.ok && o.at > restartedAt).length >= 20, 20_000);
    running = false;
    await Promise.all(workers);
    expect((await pool.query('SELECT 1 AS ok')).rows[0]).toEqual({ ok: 1 });
    expect(pool.state().connectErrors + pool.state().errors).toBeGreaterThan(0);
  });
});

describe('a database unreachable at start-up', () => {
  let cluster: EmbeddedCluster;
  let pp: RunningPoolpilot | undefined;

  beforeAll(async () => {
    cluster = await startEmbeddedCluster();
    await cluster.primary.stop();
  });
  afterAll(async () => {
    await pp?.close();
    await cluster?.stop();
  });

  it('does not stop the service: it starts down and recovers when the database appears', async () => {
    pp = await startPoolpilot({
      DATABASE_URL: cluster.primaryUrl,
      DB_CONN_TIMEOUT: '1000',
      HEALTH_CHECK_INTERVAL_MS: '300',
    });
    const res = await fetch(`${pp.url}/health`);
    expect(res.status).toBe(503);
    const error = await pp.poolpilot.cluster.primary.pool.query('SELECT 1').catch((e: unknown) => e);
    expect((error as PoolpilotError).code).toBe('DB_UNAVAILABLE');
    await cluster.primary.start();
    await eventually(async () => (await fetch(`${pp!.url}/health`)).status === 200, 20_000);
    expect((await pp.poolpilot.cluster.primary.pool.query('SELECT 1 AS ok')).rows[0]).toEqual({ ok: 1 });
    const info = await pp.gql('{ info { postgresVersion } }');
    expect((info.data as any).info.postgresVersion).toMatch(/^16\./);
  });
});
