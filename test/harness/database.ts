import { randomBytes } from 'node:crypto';
import { run } from '../../support/postgres-cluster.js';

/**
 * A fresh database per test file on the shared servers, so that counts from pg_stat_activity or
 * pg_stat_statements (filtered by datname) see only that file's work. CREATE DATABASE is
 * replicated, so the same name works on the replica.
 */
export interface TestDatabase {
  name: string;
  url: (base: string) => string;
  drop: () => Promise<void>;
}

export async function createTestDatabase(
  primaryUrl: string,
  replicaUrl?: string | null,
  prefix = 'pp',
): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  await run(primaryUrl, `CREATE DATABASE ${name}`);
  if (replicaUrl) {
    await eventually(
      async () => (await run(replicaUrl, 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount,
    );
  }
  return {
    name,
    url: (base: string) => withDatabase(base, name),
    drop: async () => {
      await run(primaryUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    },
  };
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Polls `probe` until it returns a truthy value (or throws after `timeoutMs`). */
export async function eventually<T>(
  probe: () => Promise<T> | T,
  timeoutMs = 10_000,
  everyMs = 50,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
}

/** Connections a pool holds, as PostgreSQL sees them. */
export async function poolConnections(
  primaryUrl: string,
  database: string,
  applicationName = 'poolpilot',
): Promise<number> {
  const { rows } = await run(
    primaryUrl,
    'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = $2',
    [database, applicationName],
  );
  return rows[0].n;
}

export { run };
