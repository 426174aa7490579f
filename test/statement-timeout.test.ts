import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PoolpilotError } from '../src/core/index.js';
import type { Pool } from '../src/core/pool/index.js';
import { createTestDatabase, type TestDatabase } from './harness/database.js';
import { testPool } from './harness/pool.js';

const { primaryUrl } = inject('databases');

describe('statement_timeout', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase(primaryUrl);
    // One connection, so the statement after the timeout provably runs on the same one.
    pool = testPool(db.url(primaryUrl), { min: 1, max: 1, statementTimeoutMs: 200 });
  });
  afterAll(async () => {
    await pool?.end(1_000);
    await db?.drop();
  });

  it('cancels a statement that runs longer, with QUERY_TIMEOUT, and the connection stays usable', async () => {
    const { rows: before } = await pool.query('SELECT pg_backend_pid() AS pid');
    const error = await pool.query('SELECT pg_sleep(5)').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PoolpilotError);
    expect((error as PoolpilotError).code).toBe('QUERY_TIMEOUT');
    expect((error as PoolpilotError).details.sqlstate).toBe('57014');
    const { rows: after } = await pool.query('SELECT pg_backend_pid() AS pid, 1 AS ok');
    expect(after[0]).toEqual({ pid: before[0]!.pid, ok: 1 });
    expect(pool.state()).toMatchObject({ timeouts: 1, errors: 1, total: 1, connectionsOpened: 1 });
  });

  it('cancels a running statement on the server when the caller aborts', async () => {
    const controller = new AbortController();
    const running = pool
      .query('SELECT pg_sleep(0.15)', [], { signal: controller.signal })
      .catch((e: unknown) => e);
    setTimeout(() => controller.abort(), 30);
    const error = await running;
    expect(error).toBeInstanceOf(PoolpilotError);
    expect((await pool.query('SELECT 2 AS ok')).rows[0]).toEqual({ ok: 2 });
  });
});
