import { beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually, run } from './harness/database.js';
import { startCore, useTestCore } from './harness/server.js';

const { replicaUrl } = inject('databases');

describe('read-your-writes', () => {
  const server = useTestCore(
    {
      DB_POOL_MIN: '1',
      DB_POOL_SIZE: '4',
      HEALTH_CHECK_INTERVAL_MS: '200',
      DB_REPLICA_MAX_LAG_MS: '60000',
      ROUTE_MEDIUM_THRESHOLD: '0', // every read is at least MEDIUM: replica-bound unless pinned
      READ_YOUR_WRITES_WINDOW_MS: '30000',
    },
    {
      replica: true,
      prefix: 'pp_ryw',
      seed: async ({ url, replicaUrl }) => {
        await run(
          url,
          `CREATE TABLE accounts (id int PRIMARY KEY, owner text);
       CREATE TABLE other (id int PRIMARY KEY);
       INSERT INTO other VALUES (1);`,
        );
        await eventually(
          async () => (await run(replicaUrl!, 'SELECT count(*)::int AS n FROM other')).rows[0].n === 1,
        );
      },
    },
  );
  beforeAll(async () => {
    if (!replicaUrl) throw new Error('read-your-writes needs a replica');
    await eventually(() => server.poolpilot.cluster.replicas[0]!.isUp);
  });

  const read = (id: number) =>
    server.poolpilot.execute('SELECT id, owner, pg_is_in_recovery() AS standby FROM accounts WHERE id = $1', [
      id,
    ]);

  it('reads a row written a moment ago, from the primary, then returns to the replica once it replayed', async () => {
    const written = await server.poolpilot.execute("INSERT INTO accounts VALUES (1, 'ada') RETURNING id");
    expect(written.target).toBe('primary');
    const now = await read(1);
    // The primary, unless the replay watch has already seen a replica past the write (a loaded
    // machine can take longer than REPLAY_POLL_MS to read): then that replica has the row.
    // test/causal-consistency.test.ts freezes replay positions to prove the primary deterministically.
    expect(now.rows).toEqual([{ id: 1, owner: 'ada', standby: now.target !== 'primary' }]);
    if (now.target === 'primary') expect(now.reason).toMatch(/read-your-writes: accounts was written/);

    // Other tables are not pinned.
    const other = await server.poolpilot.execute('SELECT id, pg_is_in_recovery() AS standby FROM other');
    expect(other.target).toBe('replica-1');
    expect(other.rows[0]).toMatchObject({ standby: true });

    // Once the health check sees the replica past the write's LSN, reads go back to it — and see the row.
    const later = await eventually(async () => {
      const r = await read(1);
      return r.target === 'replica-1' ? r : null;
    });
    expect(later.rows).toEqual([{ id: 1, owner: 'ada', standby: true }]);
  });

  it('pins the tables a transaction wrote', async () => {
    await server.poolpilot.transaction([
      { sql: 'INSERT INTO accounts VALUES ($1, $2)', params: [2, 'grace'] },
      { sql: "UPDATE accounts SET owner = owner || '!' WHERE id = 2" },
    ]);
    const now = await read(2);
    // As above: the primary, or a replica already seen past the commit.
    expect(now.rows).toEqual([{ id: 2, owner: 'grace!', standby: now.target !== 'primary' }]);
  });

  it('serves every read from the replica when the window is 0, so the test above is not an accident', async () => {
    const off = await startCore({
      DATABASE_URL: server.url,
      DB_REPLICA_URLS: server.db.url(replicaUrl!),
      DB_POOL_MIN: '0',
      ROUTE_MEDIUM_THRESHOLD: '0',
      DB_REPLICA_MAX_LAG_MS: '60000',
      READ_YOUR_WRITES_WINDOW_MS: '0',
    });
    try {
      await eventually(() => off.poolpilot.cluster.replicas[0]!.isUp);
      await off.poolpilot.execute("INSERT INTO accounts VALUES (3, 'linus')");
      const r = await off.poolpilot.execute('SELECT owner FROM accounts WHERE id = $1', [3]);
      expect(r.target).toBe('replica-1');
    } finally {
      await off.close();
    }
  });
});
