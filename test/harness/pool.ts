import { Pool, type PoolOptions } from '../../src/core/pool/index.js';

/** The service's defaults (DB_* of the guide), for tests that drive one Pool directly. */
export const POOL_DEFAULTS: PoolOptions = {
  min: 5,
  max: 20,
  idleTimeoutMs: 30_000,
  connectionTimeoutMs: 10_000,
  statementTimeoutMs: 30_000,
  applicationName: 'poolpilot',
};

/** A pool named like the primary's, against `connectionString`; end() it in afterAll. */
export function testPool(connectionString: string, options: Partial<PoolOptions> = {}): Pool {
  return new Pool('primary', { connectionString }, { ...POOL_DEFAULTS, ...options });
}
