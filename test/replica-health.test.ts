import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type EmbeddedCluster, startEmbeddedCluster } from '../support/postgres-cluster.js';
import { createTestDatabase, eventually, type TestDatabase } from './harness/database.js';
import { type RunningPoolpilot, startPoolpilot } from './harness/server.js';

const { primaryUrl, replicaUrl } = inject('databases');

describe.runIf(replicaUrl)('replication through the pools is real', () => {
  let db: TestDatabase;
  let pp: RunningPoolpilot;

  beforeAll(async () => {
    db = await createTestDatabase(primaryUrl, replicaUrl);
    pp = await startPoolpilot({
      DATABASE_URL: db.url(primaryUrl),
      DB_REPLICA_URLS: db.url(replicaUrl!),
      DB_POOL_MIN: '1',
    });
  });
  afterAll(async () => {
    await pp?.close();
    await db?.drop();
  });

  it('reads back from the replica a row written on the primary', async () => {
    const [primary, replica] = pp.poolpilot.cluster.targets;
    await primary!.pool.query('CREATE TABLE notes (id int PRIMARY KEY, body text)');
    await primary!.pool.query('INSERT INTO notes VALUES (1, $1)', ['written on the primary']);
    const row = await eventually(async () => {
      const { rows } = await replica!.pool.query(
        'SELECT body, pg_is_in_recovery() AS standby FROM notes WHERE id = 1',
      );
      return rows[0];
    });
    expect(row).toEqual({ body: 'written on the primary', standby: true });
    await eventually(() => pp.poolpilot.cluster.replicas[0]!.replication?.lagBytes === 0);
  });
});

describe('a replica that stops', () => {
  let cluster: EmbeddedCluster;
  let pp: RunningPoolpilot;

  beforeAll(async () => {
    cluster = await startEmbeddedCluster({ replica: true });
    pp = await startPoolpilot({
      DATABASE_URL: cluster.primaryUrl,
      DB_REPLICA_URLS: cluster.replicaUrl!,
      DB_POOL_MIN: '1',
      HEALTH_CHECK_INTERVAL_MS: '300',
    });
  });
  afterAll(async () => {
    await pp?.close();
    await cluster?.stop();
  });

  it('makes health degraded (still HTTP 200) and comes back by itself', async () => {
    expect(((await (await fetch(`${pp.url}/health`)).json()) as any).status).toBe('ok');
    await cluster.replica!.stop();
    const body = await eventually(async () => {
      const res = await fetch(`${pp.url}/health`);
      const json = (await res.json()) as any;
      return json.status === 'degraded' ? { http: res.status, json } : null;
    });
    expect(body.http).toBe(200);
    const replica = body.json.targets.find((t: any) => t.role === 'replica');
    expect(replica).toMatchObject({ reachable: false, status: 'down' });
    expect(replica.reason).toBeTruthy();

    await cluster.replica!.start();
    await eventually(
      async () => ((await (await fetch(`${pp.url}/health`)).json()) as any).status === 'ok',
      20_000,
    );
  });
});
