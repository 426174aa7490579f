import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedCluster, run, startEmbeddedCluster } from '../support/postgres-cluster.js';
import { eventually } from './harness/database.js';
import { type RunningPoolpilot, startPoolpilot } from './harness/server.js';

/** A private primary + replica: this file pauses replay and stops the replica. */
describe('reads fall back to the primary when the replica lags or is gone', () => {
  let cluster: EmbeddedCluster;
  let pp: RunningPoolpilot;
  const read = () => pp.poolpilot.execute('SELECT count(*)::int AS n, pg_is_in_recovery() AS standby FROM t');

  beforeAll(async () => {
    cluster = await startEmbeddedCluster({ replica: true });
    await run(cluster.primaryUrl, 'CREATE TABLE t (id int); INSERT INTO t VALUES (1)');
    pp = await startPoolpilot({
      DATABASE_URL: cluster.primaryUrl,
      DB_REPLICA_URLS: cluster.replicaUrl!,
      DB_POOL_MIN: '1',
      DB_POOL_SIZE: '4',
      HEALTH_CHECK_INTERVAL_MS: '200',
      DB_REPLICA_MAX_LAG_MS: '500',
      ROUTE_MEDIUM_THRESHOLD: '0',
      READ_YOUR_WRITES_WINDOW_MS: '0',
      DB_CONN_TIMEOUT: '1000',
    });
    await eventually(async () => (await read()).target === 'replica-1', 20_000);
  });
  afterAll(async () => {
    await pp?.close();
    await cluster?.stop();
  });

  it('sends reads to the primary while replay is paused and the replica falls behind', async () => {
    await run(cluster.replicaUrl!, 'SELECT pg_wal_replay_pause()');
    try {
      await run(cluster.primaryUrl, 'INSERT INTO t VALUES (2)');
      const r = await eventually(async () => {
        const x = await read();
        return x.target === 'primary' ? x : null;
      });
      expect(r.rows[0]).toEqual({ n: 2, standby: false });
      expect(r.reason).toMatch(/lags more than 500 ms|paused replay/);
    } finally {
      await run(cluster.replicaUrl!, 'SELECT pg_wal_replay_resume()');
    }
    const back = await eventually(async () => {
      const x = await read();
      return x.target === 'replica-1' ? x : null;
    }, 20_000);
    expect(back.rows[0]).toEqual({ n: 2, standby: true });
  });

  it('retries a read on the primary when the replica is stopped, then routes around it', async () => {
    await cluster.replica!.stop();
    // Whether or not health checking noticed yet, the read succeeds on the primary.
    const first = await read();
    expect(first.target).toBe('primary');
    expect(first.rows[0]).toEqual({ n: 2, standby: false });
    await eventually(() => !pp.poolpilot.cluster.replicas[0]!.isUp);
    const r = await read();
    expect(r.target).toBe('primary');
    expect(r.reason).toMatch(/no replica is up/);
    const res = await pp.gql<any>('{ health { status } }');
    expect(res.data.health.status).toBe('DEGRADED');
  });
});
