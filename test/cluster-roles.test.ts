import { afterEach, describe, expect, it } from 'vitest';
import { type PoolpilotError, silentLogger } from '../src/core/index.js';
import { Cluster, type Target, type TargetSpec } from '../src/core/pool/index.js';
import { POOL_DEFAULTS } from './harness/pool.js';

/**
 * Which target takes writes, from what the health checks detected. No server is contacted: the
 * targets' detected roles are set as a check would set them (the end-to-end behaviour, with real
 * servers being promoted and demoted, is test/failover.test.ts).
 */
describe('the cluster routes by detected roles', () => {
  let cluster: Cluster | null = null;
  afterEach(async () => {
    await cluster?.close(0);
    cluster = null;
  });

  const spec = (name: string, role: TargetSpec['role'], port: number): TargetSpec => {
    const url = `postgres://u:p@127.0.0.1:${port}/db`;
    const endpoint = { host: '127.0.0.1', port, database: 'db', user: 'u' };
    return {
      name,
      role,
      connection: { connectionString: url },
      endpoint,
      admin: { connectionString: url },
      adminEndpoint: endpoint,
    };
  };
  const make = (replicas: number): Cluster => {
    cluster = new Cluster(
      spec('primary', 'primary', 1),
      Array.from({ length: replicas }, (_, i) => spec(`replica-${i + 1}`, 'replica', 2 + i)),
      {
        pool: { ...POOL_DEFAULTS, min: 0 },
        adminPool: { ...POOL_DEFAULTS, min: 0 },
        health: {
          intervalMs: 60_000,
          initialBackoffMs: 60_000,
          maxBackoffMs: 60_000,
          connectionTimeoutMs: 100,
        },
      },
      silentLogger,
    );
    return cluster;
  };
  const seen = (target: Target, role: Target['detectedRole'], up = true) => {
    target.detectedRole = role;
    target.health.status = up ? 'up' : 'down';
  };

  it('writes to the one target reporting primary, whatever was configured', () => {
    const c = make(2);
    const [primary, r1, r2] = c.targets;
    seen(primary!, 'primary');
    seen(r1!, 'replica');
    seen(r2!, 'replica');
    expect(c.writer().name).toBe('primary');
    expect(c.readers().map((t) => t.name)).toEqual(['replica-1', 'replica-2']);
    expect(c.status()).toBe('ok');

    // replica-2 promoted, the old primary back as a read-only server.
    seen(primary!, 'replica');
    seen(r2!, 'primary');
    expect(c.writer().name).toBe('replica-2');
    expect(c.writerName()).toBe('replica-2');
    expect(c.readers().map((t) => t.name)).toEqual(['primary', 'replica-1']);
    expect(c.resolve('replica-2').name).toBe('replica-2');
    expect(c.state()).toMatchObject({ status: 'ok', writer: 'replica-2', splitBrain: null });
  });

  it('falls back to the configured primary when nobody reports primary, and says the service is down', () => {
    const c = make(1);
    const [primary, r1] = c.targets;
    seen(primary!, 'unknown', false);
    seen(r1!, 'replica');
    expect(c.writer().name).toBe('primary'); // its pool answers DB_UNAVAILABLE with why it is down
    expect(c.status()).toBe('down');
    expect(c.state().writer).toBeNull();
  });

  it('refuses everything sent to a primary while two or more report being one', () => {
    const c = make(2);
    const [primary, r1, r2] = c.targets;
    seen(primary!, 'primary');
    seen(r1!, 'primary');
    seen(r2!, 'replica');
    const error = (() => {
      try {
        c.writer();
      } catch (e) {
        return e as PoolpilotError;
      }
      return null;
    })();
    expect(error?.code).toBe('DB_UNAVAILABLE');
    expect(error?.message).toBe(
      'split brain: both primary and replica-1 report not in recovery; writes are refused until all but one are demoted',
    );
    expect(() => c.resolve(c.writerName())).toThrow(/split brain/);
    expect(() => c.resolve('replica-1')).toThrow(/split brain/);
    // A true standby still serves the reads routed to it.
    expect(c.resolve('replica-2').name).toBe('replica-2');
    expect(c.status()).toBe('down');
    expect(c.splitBrain()).toMatch(/both primary and replica-1/);

    seen(r2!, 'primary');
    expect(c.splitBrain()).toMatch(/all of primary, replica-1, replica-2 report not in recovery/);
    // A claimant that goes down no longer counts.
    seen(r1!, 'unknown', false);
    seen(r2!, 'replica');
    expect(c.splitBrain()).toBeNull();
    expect(c.writer().name).toBe('primary');
  });
});
