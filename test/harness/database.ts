import { createHash, randomBytes } from 'node:crypto';
import { run } from '../../support/postgres-cluster.js';

/**
 * A fresh database per test file on the shared servers, so that counts from pg_stat_activity or
 * pg_stat_statements (filtered by datname) see only that file's work. CREATE DATABASE is
 * replicated, so the same name works on the replica.
 *
 * As in production, the database belongs to a non-superuser data role (DATA_ROLE): `url()` connects
 * as it, so what a test creates there is the data role's own, and `adminUrl()` as the superuser
 * (what poolpilot's control plane is given as ADMIN_DATABASE_URL).
 */
export interface TestDatabase {
  name: string;
  /** `base` (a server's superuser URL) pointed at this database, as the data role. */
  url: (base: string) => string;
  /** `base` pointed at this database, as the superuser. */
  adminUrl: (base: string) => string;
  drop: () => Promise<void>;
}

/** The data role every test database belongs to: login only, no superuser, roles or databases. */
export const DATA_ROLE = 'pp_app';

/** The data role's password: derived from the superuser's, so every worker knows it without asking. */
export function dataRolePassword(superuserUrl: string): string {
  return createHash('sha256')
    .update(`${DATA_ROLE}:${new URL(superuserUrl).password}`)
    .digest('hex')
    .slice(0, 24);
}

/** `url` with the data role's credentials instead of the superuser's. */
export function asDataRole(url: string, superuserUrl: string): string {
  const u = new URL(url);
  u.username = DATA_ROLE;
  u.password = dataRolePassword(superuserUrl);
  return u.toString();
}

/** Creates the data role once per server (roles are cluster-wide and replicate). */
export async function ensureDataRole(superuserUrl: string): Promise<void> {
  const password = dataRolePassword(superuserUrl);
  // Several test files may get here at once: a concurrent CREATE ROLE fails with either error.
  await run(
    superuserUrl,
    `DO $$ BEGIN
       CREATE ROLE ${DATA_ROLE} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '${password}';
     EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
     END $$`,
  );
}

export async function createTestDatabase(
  primaryUrl: string,
  replicaUrl?: string | null,
  prefix = 'pp',
): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  await ensureDataRole(primaryUrl);
  await run(primaryUrl, `CREATE DATABASE ${name} OWNER ${DATA_ROLE}`);
  if (replicaUrl) {
    await eventually(
      async () => (await run(replicaUrl, 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount,
    );
  }
  return {
    name,
    url: (base: string) => asDataRole(withDatabase(base, name), primaryUrl),
    adminUrl: (base: string) => withDatabase(base, name),
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
