import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { run } from '../support/postgres-cluster.js';
import { poolpilotCli } from './harness/cli.js';
import { createTestDatabase, type TestDatabase } from './harness/database.js';

const { primaryUrl } = inject('databases');

describe('poolpilot demo', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(primaryUrl, null, 'demo');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('creates users, orders and accounts in the configured database once, then leaves them alone', async () => {
    const first = await poolpilotCli(['demo', '--json'], { DATABASE_URL: db.url(primaryUrl) }, 120_000);
    expect(first.code, first.stderr).toBe(0);
    expect(first.json().tables).toEqual([
      { name: 'users', rows: 50_000, created: true },
      { name: 'orders', rows: 500_000, created: true },
      { name: 'accounts', rows: 50_000, created: true },
    ]);
    const counts = await run(
      db.url(primaryUrl),
      `SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM orders)::int AS orders,
              (SELECT count(*) FROM accounts)::int AS accounts,
              (SELECT count(*) FROM orders WHERE user_id = 42)::int AS of_user_42,
              (SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'orders') AS analyzed`,
    );
    expect(counts.rows[0]).toEqual({
      users: 50_000,
      orders: 500_000,
      accounts: 50_000,
      of_user_42: 10,
      analyzed: true,
    });

    // Later inserts take the next id; a second run changes nothing.
    await run(
      db.url(primaryUrl),
      "INSERT INTO users (email, name, country, created_at) VALUES ('new@example.com', 'New', 'DE', now())",
    );
    const again = await poolpilotCli(['demo', '--database-url', db.url(primaryUrl)]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/users +│ 5000\d +│ already there, left alone/);
    expect((await run(db.url(primaryUrl), 'SELECT count(*)::int AS n FROM users')).rows[0].n).toBe(50_001);
    expect(again.stdout).not.toContain(new URL(primaryUrl).password || '\u0000');
  });

  it('says what to configure when there is no database, and rejects a bad URL, with exit code 2', async () => {
    const none = await poolpilotCli(['demo']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('set DATABASE_URL');
    const bad = await poolpilotCli(['demo', '--database-url', 'mysql://x']);
    expect(bad.code).toBe(2);
  });
});
