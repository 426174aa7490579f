import { createClient } from 'graphql-ws';
import { describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { eventually, run } from './harness/database.js';
import { startPoolpilot, useTestServer } from './harness/server.js';

const { replicaUrl } = inject('databases');

const EXECUTE = `mutation($sql: String!, $params: [JSON], $session: String, $afterLsn: String) {
  executeQuery(sql: $sql, params: $params, session: $session, afterLsn: $afterLsn) {
    rows target reason lsn consistency { afterLsn servedAt waitedMs reason }
  }
}`;

const TRANSACTION = `mutation($statements: [StatementInput!]!, $afterLsn: String) {
  executeTransaction(statements: $statements, afterLsn: $afterLsn) {
    target lsn consistency { afterLsn servedAt reason }
  }
}`;

const seed = async ({ url, replicaUrl }: { url: string; replicaUrl: string | null }) => {
  await run(
    url,
    'CREATE TABLE notes (id int PRIMARY KEY, body text); CREATE TABLE other (id int PRIMARY KEY)',
  );
  await run(url, 'INSERT INTO other VALUES (1)');
  await eventually(
    async () => (await run(replicaUrl!, 'SELECT count(*)::int AS n FROM other')).rows[0].n === 1,
  );
};

/** POSTs a GraphQL operation with an optional x-poolpilot-session header. */
async function post(url: string, query: string, variables: Record<string, unknown>, session?: string) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(session === undefined ? {} : { 'x-poolpilot-session': session }),
    },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
}

const READ = 'SELECT id, body, pg_is_in_recovery() AS standby FROM notes WHERE id = $1';

describe('session-scoped read-your-writes and causal tokens', () => {
  // Replay positions come only from the start-up check (no health check, no replay reading in
  // the test's time), so where a read goes right after a write is decided, not raced.
  const frozen = useTestServer(
    {
      DB_POOL_MIN: '1',
      DB_POOL_SIZE: '4',
      HEALTH_CHECK_INTERVAL_MS: '3600000',
      REPLAY_POLL_MS: '10000',
      DB_REPLICA_MAX_LAG_MS: '600000',
      ROUTE_MEDIUM_THRESHOLD: '0',
      READ_YOUR_WRITES_WINDOW_MS: '600000',
      CAUSAL_WAIT_MS: '0',
    },
    { replica: true, prefix: 'pp_causal', seed },
  );

  it('keeps the writing session on the primary and sends other sessions to the replica', async () => {
    if (!replicaUrl) throw new Error('needs a replica');
    const w = await post(frozen.pp.url, EXECUTE, { sql: "INSERT INTO notes VALUES (1, 'a')" }, 'alice');
    expect(w.errors).toBeUndefined();
    expect(w.data.executeQuery.target).toBe('primary');
    expect(w.data.executeQuery.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);

    const own = await post(frozen.pp.url, EXECUTE, { sql: READ, params: [1] }, 'alice');
    expect(own.data.executeQuery.target).toBe('primary');
    expect(own.data.executeQuery.rows).toEqual([{ id: 1, body: 'a', standby: false }]);
    expect(own.data.executeQuery.reason).toMatch(/read-your-writes: notes was written .* by this session/);

    // Another session (named by the argument, which wins over the header) reads the same table from the replica.
    const other = await post(frozen.pp.url, EXECUTE, { sql: READ, params: [1], session: 'bob' }, 'alice');
    expect(other.errors).toBeUndefined();
    expect(other.data.executeQuery.target).toBe('replica-1');
    expect(other.data.executeQuery.rows.every((r: { standby: boolean }) => r.standby)).toBe(true);

    // Callers that name no session share one: not alice's.
    const anonymous = await post(frozen.pp.url, EXECUTE, { sql: READ, params: [1] });
    expect(anonymous.data.executeQuery.target).toBe('replica-1');
  });

  it('gives an afterLsn the replica has not replayed to the primary, and says why', async () => {
    const far = await post(frozen.pp.url, EXECUTE, { sql: READ, params: [1], afterLsn: 'FFFFFFFF/0' });
    expect(far.errors).toBeUndefined();
    expect(far.data.executeQuery.target).toBe('primary');
    expect(far.data.executeQuery.consistency).toEqual({
      afterLsn: 'FFFFFFFF/0',
      servedAt: 'primary',
      waitedMs: 0,
      reason: 'PRIMARY_FALLBACK',
    });
    expect(far.data.executeQuery.reason).toMatch(/no replica has replayed afterLsn FFFFFFFF\/0/);
    // A statement that goes to the primary anyway says so.
    const write = await post(frozen.pp.url, EXECUTE, {
      sql: "UPDATE notes SET body = 'b' WHERE id = 1",
      afterLsn: '0/1',
    });
    expect(write.data.executeQuery.consistency.reason).toBe('PRIMARY');
    // An old position: the replica has it.
    const old = await post(frozen.pp.url, EXECUTE, { sql: 'SELECT id FROM other', afterLsn: '0/1' });
    expect(old.data.executeQuery.target).toBe('replica-1');
    expect(old.data.executeQuery.consistency.reason).toBe('REPLICA_CAUGHT_UP');
  });

  it('refuses a bad afterLsn, session name or hint with BAD_USER_INPUT', async () => {
    for (const afterLsn of ['nope', '0/', '1/2/3', '123456789/0', '']) {
      const res = await post(frozen.pp.url, EXECUTE, { sql: 'SELECT 1', afterLsn });
      expect(res.errors?.[0]?.extensions?.code, afterLsn).toBe('BAD_USER_INPUT');
      expect(res.errors?.[0]?.message).toMatch(/not a WAL position/);
    }
    const tooLong = await post(frozen.pp.url, EXECUTE, { sql: 'SELECT 1', session: 'x'.repeat(201) });
    expect(tooLong.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const hint = await post(frozen.pp.url, EXECUTE, { sql: '/* poolpilot.after_lsn=zz */ SELECT 1' });
    expect(hint.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    // The service is still up.
    expect((await post(frozen.pp.url, EXECUTE, { sql: 'SELECT 1 AS one' })).data.executeQuery.rows).toEqual([
      { one: 1 },
    ]);
  });

  it('returns the commit position of a transaction, and honours a hint in the SQL', async () => {
    const tx = await post(frozen.pp.url, TRANSACTION, {
      statements: [{ sql: "INSERT INTO notes VALUES (2, 'tx')" }],
      afterLsn: '0/10',
    });
    expect(tx.errors).toBeUndefined();
    expect(tx.data.executeTransaction.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(tx.data.executeTransaction.consistency).toEqual({
      afterLsn: '0/10',
      servedAt: 'primary',
      reason: 'PRIMARY',
    });
    const hinted = await post(frozen.pp.url, EXECUTE, {
      sql: '/* poolpilot.after_lsn=FFFFFFFF/0 */ SELECT id FROM other',
    });
    expect(hinted.data.executeQuery.target).toBe('primary');
    expect(hinted.data.executeQuery.consistency.reason).toBe('PRIMARY_FALLBACK');
  });

  it('takes the session of a WebSocket from connectionParams.session', async () => {
    const client = createClient({
      url: frozen.pp.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { session: 'carol' },
    });
    try {
      const once = (variables: Record<string, unknown>): Promise<any> => {
        const it = client.iterate({ query: EXECUTE, variables });
        return it.next().then(async (r) => {
          await it.return?.();
          return r.value;
        });
      };
      await once({ sql: "INSERT INTO notes VALUES (20, 'ws')" });
      const own = await once({ sql: READ, params: [20] });
      expect(own.data.executeQuery.target).toBe('primary');
      expect(own.data.executeQuery.reason).toMatch(/by this session/);
      const http = await post(frozen.pp.url, EXECUTE, { sql: READ, params: [20] }, 'dave');
      expect(http.data.executeQuery.target).toBe('replica-1');
      // Both spellings of the same name are one session.
      const carol = await post(frozen.pp.url, EXECUTE, { sql: READ, params: [20] }, 'carol');
      expect(carol.data.executeQuery.target).toBe('primary');
    } finally {
      await client.dispose();
    }
  });

  it('takes the same header and arguments over the REST API', async () => {
    const rest = async (body: Record<string, unknown>, session: string) => {
      const res = await fetch(`${frozen.pp.url}/api/query/execute`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-poolpilot-session': session },
        body: JSON.stringify(body),
      });
      return { status: res.status, json: (await res.json()) as Record<string, any> };
    };
    const written = await rest({ query: "INSERT INTO notes VALUES (30, 'rest')" }, 'erin');
    expect(written.status).toBe(200);
    expect(written.json.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    const own = await rest({ query: READ, params: [30] }, 'erin');
    expect(own.json.target).toBe('primary');
    const other = await rest({ query: READ, params: [30] }, 'frank');
    expect(other.json.target).toBe('replica-1');
    const token = await rest({ query: READ, params: [30], afterLsn: written.json.lsn }, 'frank');
    expect(token.json.target).toBe('primary'); // positions frozen at start-up and CAUSAL_WAIT_MS 0
    expect(token.json.consistency).toMatchObject({ reason: 'PRIMARY_FALLBACK', afterLsn: written.json.lsn });
  });

  it('shows the settings in info.configuration', async () => {
    const res = await post(
      frozen.pp.url,
      '{ info { configuration { routing { readYourWrites readYourWritesWindowMs readYourWritesMaxSessions causalWaitMs replayPollMs } } } }',
      {},
    );
    expect(res.data.info.configuration.routing).toEqual({
      readYourWrites: 'SESSION',
      readYourWritesWindowMs: 600000,
      readYourWritesMaxSessions: 10000,
      causalWaitMs: 0,
      replayPollMs: 10000,
    });
  });

  it('in global mode holds back every session, so the session scope above is not an accident', async () => {
    const global = await startPoolpilot({
      DATABASE_URL: frozen.url,
      DB_REPLICA_URLS: frozen.db.url(replicaUrl!),
      DB_POOL_MIN: '0',
      HEALTH_CHECK_INTERVAL_MS: '3600000',
      REPLAY_POLL_MS: '10000',
      DB_REPLICA_MAX_LAG_MS: '600000',
      ROUTE_MEDIUM_THRESHOLD: '0',
      READ_YOUR_WRITES_WINDOW_MS: '600000',
      READ_YOUR_WRITES: 'global',
    });
    try {
      await eventually(() => global.poolpilot.cluster.replicas[0]!.isUp);
      await post(global.url, EXECUTE, { sql: "INSERT INTO notes VALUES (3, 'g')" }, 'alice');
      const other = await post(global.url, EXECUTE, { sql: READ, params: [3] }, 'bob');
      expect(other.data.executeQuery.target).toBe('primary');
      expect(other.data.executeQuery.rows).toEqual([{ id: 3, body: 'g', standby: false }]);
      expect(other.data.executeQuery.reason).toMatch(/read-your-writes: notes was written/);
    } finally {
      await global.close();
    }
  });
});

describe('causal tokens with live replay positions', () => {
  const live = useTestServer(
    {
      DB_POOL_MIN: '1',
      DB_POOL_SIZE: '4',
      DB_REPLICA_MAX_LAG_MS: '600000',
      ROUTE_MEDIUM_THRESHOLD: '0',
      READ_YOUR_WRITES_WINDOW_MS: '600000',
      // Long enough that a local replica always replays within it: the test does not race it.
      CAUSAL_WAIT_MS: '10000',
    },
    { replica: true, prefix: 'pp_causal_live', seed },
  );

  it('serves a token read from the replica once it has replayed the write', async () => {
    const w = await post(live.pp.url, EXECUTE, { sql: "INSERT INTO notes VALUES (10, 'token')" }, 'writer');
    const lsn = w.data.executeQuery.lsn as string;
    expect(lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    const read = await post(live.pp.url, EXECUTE, { sql: READ, params: [10], afterLsn: lsn }, 'reader');
    expect(read.errors).toBeUndefined();
    expect(read.data.executeQuery.target).toBe('replica-1');
    expect(read.data.executeQuery.rows).toEqual([{ id: 10, body: 'token', standby: true }]);
    expect(['REPLICA_CAUGHT_UP', 'WAITED']).toContain(read.data.executeQuery.consistency.reason);
    expect(read.data.executeQuery.consistency.afterLsn).toBe(lsn);
  });

  it("returns the writer's reads to the replica once it replayed, without waiting for a health check", async () => {
    await post(live.pp.url, EXECUTE, { sql: "INSERT INTO notes VALUES (11, 'mine')" }, 'writer-2');
    // The health check runs every 2 s (the default); the replay watch reads the replica far more often.
    const back = await eventually(async () => {
      const r = await post(live.pp.url, EXECUTE, { sql: READ, params: [11] }, 'writer-2');
      return r.data.executeQuery.target === 'replica-1' ? r : null;
    });
    expect(back.data.executeQuery.rows).toEqual([{ id: 11, body: 'mine', standby: true }]);
    expect(live.pp.poolpilot.replay.polls).toBeGreaterThan(0);
  });
});
