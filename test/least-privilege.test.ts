import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DATA_ROLE, run } from './harness/database.js';
import { useTestServer } from './harness/server.js';

const { primaryUrl } = inject('databases');
const OPERATOR = 'operator-token-least-privilege-1';
const ADMIN = 'admin-token-least-privilege-0001';

const EXECUTE = 'mutation($sql: String!) { executeQuery(sql: $sql) { rowCount rows } }';
const TRANSACTION =
  'mutation($statements: [StatementInput!]!) { executeTransaction(statements: $statements) { results { rowCount } } }';

/**
 * What an operator could do through executeQuery when the pools connected as the superuser, each
 * tried again: callers' statements now run as a role that owns its database and nothing else,
 * and poolpilot's own work (audit trail, statistics, health) runs as another.
 */
describe('least privilege: callers run as the data role', () => {
  const server = useTestServer({ API_TOKENS: `operator:${OPERATOR},admin:${ADMIN}` }, { prefix: 'priv' });
  const admin = () => server.db.adminUrl(primaryUrl);
  const execute = async (sql: string) => {
    const res = await server.pp.gql<any>(EXECUTE, { sql }, OPERATOR);
    return { data: res.data?.executeQuery, error: res.errors?.[0] };
  };
  const expectRefused = (error: any, message: RegExp) => {
    expect(error, 'the statement was refused').toBeDefined();
    expect(error.extensions.code).toBe('BAD_SQL');
    expect(error.extensions.sqlstate).toBe('42501'); // insufficient_privilege
    expect(error.message).toMatch(message);
  };

  beforeAll(async () => {
    await server.pp.poolpilot.audit.migrator.migrate();
  });
  afterAll(async () => {
    await run(primaryUrl, 'DROP ROLE IF EXISTS pp_intruder').catch(() => undefined);
  });

  it('runs callers as a role that is not a superuser, and poolpilot’s own work as another', async () => {
    const who = await execute(
      'SELECT current_user AS "user", (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS super',
    );
    expect(who.data.rows).toEqual([{ user: DATA_ROLE, super: false }]);
    const own = await server.pp.poolpilot.cluster.primary.admin.query('SELECT current_user AS "user"');
    expect(own.rows[0]!.user).not.toBe(DATA_ROLE);
    // Tables a caller creates are its own (the data role owns the database and its public schema).
    await execute('CREATE TABLE mine (id int)');
    const owner = await run(admin(), "SELECT tableowner FROM pg_tables WHERE tablename = 'mine'");
    expect(owner.rows).toEqual([{ tableowner: DATA_ROLE }]);
  });

  it('refuses ALTER SYSTEM', async () => {
    const { error } = await execute("ALTER SYSTEM SET work_mem = '1GB'");
    expectRefused(error, /permission denied to set parameter "work_mem"/);
    const file = await run(
      primaryUrl,
      "SELECT count(*)::int AS n FROM pg_file_settings WHERE name = 'work_mem'",
    );
    expect(file.rows[0].n).toBe(0);
  });

  it('refuses CREATE ROLE', async () => {
    const { error } = await execute("CREATE ROLE pp_intruder SUPERUSER LOGIN PASSWORD 'x'");
    expectRefused(error, /permission denied to create role/);
    const roles = await run(
      primaryUrl,
      "SELECT count(*)::int AS n FROM pg_roles WHERE rolname = 'pp_intruder'",
    );
    expect(roles.rows[0].n).toBe(0);
  });

  it("refuses to terminate poolpilot's control-plane and health connections", async () => {
    // Opens the control-plane pool's connection and waits for the health checker's.
    await server.pp.poolpilot.insights.connectionStates();
    const own = await run(
      admin(),
      `SELECT pid, application_name FROM pg_stat_activity
        WHERE datname = current_database() AND application_name IN ('poolpilot-admin', 'poolpilot-health')`,
    );
    expect(own.rows.map((r) => r.application_name).sort()).toEqual(
      expect.arrayContaining(['poolpilot-admin', 'poolpilot-health']),
    );
    for (const { pid } of own.rows) {
      const { error } = await execute(`SELECT pg_terminate_backend(${pid})`);
      expectRefused(error, /permission denied to terminate process/);
    }
    const alive = await run(admin(), 'SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY ($1)', [
      own.rows.map((r) => r.pid),
    ]);
    expect(alive.rows[0].n).toBe(own.rows.length);
  });

  it('refuses to drop the poolpilot schema or rewrite the audit trail, and applyOptimization still works', async () => {
    const dropped = await execute('DROP SCHEMA poolpilot CASCADE');
    expectRefused(dropped.error, /must be owner of schema poolpilot/);
    const rewritten = await execute("UPDATE poolpilot.optimization_audit SET actor = 'nobody'");
    expectRefused(rewritten.error, /permission denied for schema poolpilot/);
    const inserted = await server.pp.gql<any>(
      TRANSACTION,
      {
        statements: [
          {
            sql: "INSERT INTO poolpilot.schema_migrations (version, name) VALUES (99, 'forged')",
          },
        ],
      },
      OPERATOR,
    );
    expect(inserted.errors?.[0]?.extensions?.sqlstate).toBe('42501');

    const list = await server.pp.gql<any>('{ optimizations(kind: PGBOUNCER_CONFIG) { id } }', {}, ADMIN);
    const id = list.data.optimizations[0].id;
    const applied = await server.pp.gql<any>(
      'mutation($id: ID!) { applyOptimization(id: $id) { outcome audit { id actor } } }',
      { id },
      ADMIN,
    );
    expect(applied.errors).toBeUndefined();
    expect(applied.data.applyOptimization.outcome).toBe('ADVICE_ONLY');
    const audit = await run(
      admin(),
      'SELECT actor FROM poolpilot.optimization_audit WHERE optimization_id = $1',
      [id],
    );
    expect(audit.rows).toHaveLength(1);
    const versions = await run(admin(), 'SELECT version FROM poolpilot.schema_migrations');
    expect(versions.rows).toEqual([{ version: 1 }]);
  });

  it('refuses COPY … FROM PROGRAM (a shell as the PostgreSQL OS user)', async () => {
    await execute('CREATE TABLE shell_out (line text)');
    const { error } = await execute("COPY shell_out FROM PROGRAM 'id'");
    expectRefused(error, /permission denied to COPY (from|to or from) an external program/);
    const rows = await run(admin(), 'SELECT count(*)::int AS n FROM shell_out');
    expect(rows.rows[0].n).toBe(0);
  });
});
