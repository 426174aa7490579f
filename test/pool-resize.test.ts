import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Pool } from '../src/core/pool/index.js';
import { createTestDatabase, eventually, poolConnections, type TestDatabase } from './harness/database.js';
import { testPool } from './harness/pool.js';

const { primaryUrl } = inject('databases');

describe('live resize', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase(primaryUrl);
    pool = testPool(db.url(primaryUrl), { min: 2, max: 4 });
    pool.warm();
  });
  afterAll(async () => {
    await pool?.end(1_000);
    await db?.drop();
  });

  it('grows and shrinks while queries run, and none of them fails', async () => {
    const results: Promise<unknown>[] = [];
    const load = (n: number) => {
      for (let i = 0; i < n; i++) results.push(pool.query('SELECT pg_sleep(0.05 + random() * 0.1)'));
    };
    load(40);
    await eventually(() => pool.state().waiting > 0);
    pool.resize(4, 10); // up: more connections open while callers wait
    await eventually(() => pool.state().total > 4);
    load(40);
    await new Promise((r) => setTimeout(r, 100));
    pool.resize(1, 2); // down while busy: surplus connections close as they come back
    load(20);
    const settled = await Promise.allSettled(results);
    expect(settled.filter((s) => s.status === 'rejected')).toEqual([]);
    expect(pool.state().total).toBeLessThanOrEqual(2);
    await eventually(async () => (await poolConnections(primaryUrl, db.name)) <= 2);
    expect(pool.state()).toMatchObject({ min: 1, max: 2, errors: 0 });
    pool.resize(3, 5);
    await eventually(async () => (await poolConnections(primaryUrl, db.name)) === 3);
  });

  it('rejects sizes that make no sense', () => {
    expect(() => pool.resize(5, 2)).toThrow(/min <= max/);
    expect(() => pool.resize(0, 0)).toThrow();
  });
});

describe('a ceiling below max (a share of a fleet-wide budget)', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase(primaryUrl);
    pool = testPool(db.url(primaryUrl), { min: 2, max: 6 });
    pool.warm();
    await eventually(() => pool.state().idle === 2);
  });
  afterAll(async () => {
    await pool?.end(1_000);
    await db?.drop();
  });

  it('0 closes every idle connection and makes callers wait; raising it serves them', async () => {
    pool.limit(0);
    expect(pool.state()).toMatchObject({ max: 0, min: 0 });
    await eventually(async () => (await poolConnections(primaryUrl, db.name)) === 0);
    expect(pool.serverConnections).toBe(0);
    const waiting = pool.query('SELECT 1 AS one');
    await eventually(() => pool.state().waiting === 1);
    expect(pool.demand).toBe(1);
    expect(pool.totalCount).toBe(0);
    pool.limit(3);
    expect((await waiting).rows).toEqual([{ one: 1 }]);
    expect(pool.state()).toMatchObject({ max: 3, min: 2 });
  });

  it('never holds more server connections than the ceiling under load, and shrinks as they come back', async () => {
    pool.limit(3);
    const results: Promise<unknown>[] = [];
    for (let i = 0; i < 30; i++) results.push(pool.query('SELECT pg_sleep(0.05)'));
    let most = 0;
    const watch = setInterval(() => {
      most = Math.max(most, pool.serverConnections);
    }, 5);
    try {
      await eventually(() => pool.state().active === 3);
      pool.limit(1); // busy connections above it close as they come back
      await Promise.all(results);
    } finally {
      clearInterval(watch);
    }
    expect(most).toBeLessThanOrEqual(3);
    await eventually(async () => (await poolConnections(primaryUrl, db.name)) <= 1);
    expect(pool.state()).toMatchObject({ max: 1, errors: 0 });
    // Lifting the ceiling gives `max` back.
    pool.limit(Number.POSITIVE_INFINITY);
    expect(pool.state().max).toBe(6);
    expect(() => pool.limit(-1)).toThrow(RangeError);
  });
});
