import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, run } from './harness/database.js';
import { useTestServer } from './harness/server.js';

const STATES = `query($ms: Int) {
  connectionStates(longerThanMs: $ms) {
    total active idle idleInTransaction idleInTransactionAborted waitingOnLocks poolpilot oldestTransactionMs
    maxConnections serverTotal
    idleInTransactionSessions { pid user application state transactionAgeMs stateAgeMs query poolpilot }
    longRunningSessions { pid application state stateAgeMs query }
    blocking { blockedPid blockedApplication blockedQuery blockingPid blockingApplication blockingState }
  }
}`;

describe('connectionStates (query)', () => {
  const clients: pg.Client[] = [];

  const client = async (application: string) => {
    const c = new pg.Client({ connectionString: server.url, application_name: application });
    c.on('error', () => undefined);
    await c.connect();
    clients.push(c);
    return c;
  };

  const server = useTestServer(
    { DB_POOL_MIN: '2', DB_POOL_SIZE: '4' },
    {
      prefix: 'conns',
      seed: async ({ url }) => {
        await run(
          url,
          'CREATE TABLE accounts (id int PRIMARY KEY, balance int); INSERT INTO accounts VALUES (1, 100)',
        );
      },
    },
  );
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  });

  it('counts by state and lists idle-in-transaction, long-running and blocked sessions', async () => {
    const holder = await client('holder');
    await holder.query('BEGIN');
    await holder.query('UPDATE accounts SET balance = balance + 1 WHERE id = 1');
    const holderPid = (await holder.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    const waiter = await client('waiter');
    const waiterPid = (await waiter.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    const blocked = waiter
      .query('UPDATE accounts SET balance = balance - 1 WHERE id = 1')
      .catch(() => undefined);
    const aborted = await client('aborted');
    await aborted.query('BEGIN');
    await aborted.query('SELECT 1/0').catch(() => undefined);

    const data = await eventually(async () => {
      const res = await server.pp.gql<any>(STATES, { ms: 200 });
      const s = res.data?.connectionStates;
      return s?.blocking.length && s.longRunningSessions.length && s.idleInTransactionSessions.length >= 2
        ? s
        : null;
    });
    expect(data.idleInTransaction).toBeGreaterThanOrEqual(1);
    expect(data.idleInTransactionAborted).toBe(1);
    expect(data.active).toBeGreaterThanOrEqual(1);
    expect(data.waitingOnLocks).toBe(1);
    expect(data.poolpilot).toBeGreaterThanOrEqual(2);
    expect(data.total).toBeGreaterThanOrEqual(data.poolpilot + 3);
    expect(data.oldestTransactionMs).toBeGreaterThanOrEqual(200);
    expect(data.maxConnections).toBeGreaterThan(0);
    expect(data.serverTotal).toBeGreaterThanOrEqual(data.total);

    const holding = data.idleInTransactionSessions.find((s: any) => s.pid === holderPid);
    expect(holding).toMatchObject({ application: 'holder', state: 'idle in transaction', poolpilot: false });
    expect(holding.query).toContain('SELECT pg_backend_pid()');
    expect(data.idleInTransactionSessions.find((s: any) => s.application === 'aborted').state).toBe(
      'idle in transaction (aborted)',
    );
    expect(data.longRunningSessions.find((s: any) => s.pid === waiterPid)).toMatchObject({
      application: 'waiter',
      state: 'active',
    });
    expect(data.blocking).toContainEqual(
      expect.objectContaining({
        blockedPid: waiterPid,
        blockedApplication: 'waiter',
        blockingPid: holderPid,
        blockingApplication: 'holder',
        blockingState: 'idle in transaction',
      }),
    );
    expect(data.blocking[0].blockedQuery).toContain('UPDATE accounts');

    await holder.query('ROLLBACK');
    await blocked;
  });

  it('truncates query text', async () => {
    const c = await client('long-text');
    await c.query('BEGIN');
    await c.query(`SELECT '${'x'.repeat(500)}' AS long_text`);
    const res = await eventually(async () => {
      const r = await server.pp.gql<any>(
        '{ connectionStates(longerThanMs: 0, queryChars: 40) { idleInTransactionSessions { application query } } }',
      );
      return r.data?.connectionStates.idleInTransactionSessions.find(
        (s: any) => s.application === 'long-text',
      );
    });
    expect(res.query).toHaveLength(40);
    await c.query('ROLLBACK');
  });
});
