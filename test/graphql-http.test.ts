import { describe, expect, inject, it } from 'vitest';
import { useTestServer } from './harness/server.js';

const { primaryUrl, replicaUrl } = inject('databases');

describe('GraphQL over HTTP', () => {
  const server = useTestServer(
    { DB_POOL_MIN: '2', DB_POOL_SIZE: '4', DB_PASSWORD: 'never-shown' },
    { replica: true },
  );

  it('answers info, health and poolStats with real figures', async () => {
    await server.pp.poolpilot.cluster.primary.pool.query('SELECT 1');
    const res = await server.pp.gql(`{
      info { name version postgresVersion embedded authEnabled targets { name role host port database status } config }
      health { status targets { name role status reachable reason replication { lagBytes lagMs } } }
      poolStats {
        total idle active waiting max min utilization queries
        queryLatency { count p50Ms p95Ms p99Ms }
        targets { name role total idle min max up }
      }
    }`);
    expect(res.errors).toBeUndefined();
    const data = res.data as any;
    expect(data.info.name).toBe('poolpilot');
    expect(data.info.postgresVersion).toMatch(/^16\./);
    expect(JSON.stringify(data.info.config)).not.toContain(new URL(primaryUrl).password);
    expect(data.health.status).toBe('OK');
    const primary = data.poolStats.targets.find((t: any) => t.role === 'PRIMARY');
    expect(primary).toMatchObject({ name: 'primary', min: 2, max: 4, up: true });
    expect(primary.total).toBeGreaterThanOrEqual(2);
    expect(data.poolStats.queries).toBeGreaterThanOrEqual(1);
    expect(data.poolStats.queryLatency.count).toBeGreaterThanOrEqual(1);
    expect(data.poolStats.queryLatency.p50Ms).toBeGreaterThan(0);
    if (replicaUrl) {
      const replica = data.health.targets.find((t: any) => t.role === 'REPLICA');
      expect(replica.status).toBe('UP');
      expect(replica.replication.lagBytes).toBeGreaterThanOrEqual(0);
    }
  });

  it('serves GET /health as JSON with per-target reachability', async () => {
    const res = await fetch(`${server.pp.url}/health`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.status).toBe('ok');
    expect(body.targets.map((t: any) => t.role)).toContain('primary');
    expect(body.targets.every((t: any) => t.reachable)).toBe(true);
  });

  it('resizes the pool live through resizePool', async () => {
    const res = await server.pp.gql(
      'mutation { resizePool(min: 3, max: 6) { min max targets { name min max } } }',
    );
    expect(res.errors).toBeUndefined();
    expect((res.data as any).resizePool.targets[0]).toMatchObject({ min: 3, max: 6 });
    expect(server.pp.poolpilot.cluster.primary.pool.options.max).toBe(6);
  });
});
