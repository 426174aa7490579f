import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Pool, PoolOptions } from '../src/core/pool/index.js';
import { createTestDatabase, eventually, poolConnections, type TestDatabase } from './harness/database.js';
import { testPool } from './harness/pool.js';

const { primaryUrl } = inject('databases');

describe('pool sizes, seen from pg_stat_activity', () => {
  let db: TestDatabase;
  const pools: Pool[] = [];
  const newPool = (min: number, max: number, extra: Partial<PoolOptions> = {}) => {
    const pool = testPool(db.url(primaryUrl), { ...extra, min, max });
    pools.push(pool);
    return pool;
  };

  beforeAll(async () => {
    db = await createTestDatabase(primaryUrl);
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end(1_000)));
    await db?.drop();
  });

  it('opens min connections at start and keeps them warm', async () => {
    const pool = newPool(3, 6);
    pool.warm();
    await eventually(async () => (await poolConnections(primaryUrl, db.name)) === 3);
    expect(pool.state()).toMatchObject({ total: 3, idle: 3, active: 0, min: 3, max: 6 });
    await pool.end();
    await eventually(async () => (await poolConnections(primaryUrl, db.name)) === 0);
  });

  it('never opens more than max, and callers beyond it wait (waiting, maxWait) then drain', async () => {
    const pool = newPool(1, 3);
    pool.warm();
    const queries = Array.from({ length: 9 }, () => pool.query('SELECT pg_sleep(0.4)'));
    const peak = await eventually(() => {
      const s = pool.state();
      return s.active === 3 && s.waiting >= 5 && s.maxWaitMs > 0 ? s : null;
    });
    expect(peak.active).toBe(3);
    expect(peak.utilization).toBe(100);
    expect(await poolConnections(primaryUrl, db.name)).toBeLessThanOrEqual(3);
    // The oldest waiter's wait grows while it waits.
    await new Promise((r) => setTimeout(r, 150));
    expect(pool.state().maxWaitMs).toBeGreaterThan(peak.maxWaitMs);
    await Promise.all(queries);
    const after = pool.state();
    expect(after).toMatchObject({ waiting: 0, maxWaitMs: 0, active: 0 });
    expect(after.total).toBeLessThanOrEqual(3);
    expect(after.acquireWait.count).toBe(9);
    expect(after.acquireWait.p99Ms).toBeGreaterThan(300); // the last three waited for two rounds of 0.4 s
    expect(after.queryLatency.count).toBe(9);
    expect(after.queryLatency.p50Ms).toBeGreaterThanOrEqual(390);
    await pool.end();
  });

  it('closes idle connections above min after the idle timeout', async () => {
    const pool = newPool(1, 4, { idleTimeoutMs: 300 });
    await Promise.all(Array.from({ length: 4 }, () => pool.query('SELECT pg_sleep(0.1)')));
    expect(pool.state().total).toBe(4);
    await eventually(() => pool.state().total === 1, 5_000);
    await eventually(async () => (await poolConnections(primaryUrl, db.name)) === 1);
    expect(pool.state().connectionsClosed).toBeGreaterThanOrEqual(3);
    await pool.end();
  });

  it('sets statement_timeout and application_name on every connection', async () => {
    const pool = newPool(1, 2, { statementTimeoutMs: 1234 });
    const { rows } = await pool.query(
      "SELECT current_setting('statement_timeout') AS st, current_setting('application_name') AS app",
    );
    expect(rows[0]).toEqual({ st: '1234ms', app: 'poolpilot' });
    await pool.end();
  });
});
