import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, eventually, run, type TestDatabase } from './harness/database.js';
import { type RunningPoolpilot, startPoolpilot } from './harness/server.js';
import { collect, wsClient } from './harness/subscriptions.js';

const { primaryUrl } = inject('databases');

/** At most `places` decimals, as the rounded figures promise. */
function decimals(value: number, places: number): boolean {
  return Math.abs(value * 10 ** places - Math.round(value * 10 ** places)) < 1e-6;
}

describe('the schema as a client reads it', () => {
  let pp: RunningPoolpilot;
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase(primaryUrl, null, 'schema_api');
    await run(
      db.url(primaryUrl),
      `CREATE TABLE a (id int); CREATE TABLE b (id int); CREATE TABLE c (id int);
       INSERT INTO a SELECT g FROM generate_series(1, 3000) g; INSERT INTO b SELECT g FROM generate_series(1, 2000) g;
       INSERT INTO c SELECT g FROM generate_series(1, 1000) g; ANALYZE a; ANALYZE b; ANALYZE c;`,
    );
    pp = await startPoolpilot({ DATABASE_URL: db.url(primaryUrl) });
  });
  afterAll(async () => {
    await pp?.close();
    await db?.drop();
  });

  it('lists the error codes a client can switch on', async () => {
    const res = await pp.gql<{ errorCodes: { code: string; description: string }[] }>(
      '{ errorCodes { code description } }',
    );
    expect(res.errors).toBeUndefined();
    const codes = res.data!.errorCodes.map((c) => c.code);
    expect(codes).toEqual(
      expect.arrayContaining(['OPTIMIZATION_NOT_FOUND', 'BAD_USER_INPUT', 'BAD_REQUEST']),
    );
    expect(res.data!.errorCodes.every((c) => c.description.length > 10)).toBe(true);
  });

  it('refuses a limit above the documented cap, naming it, instead of capping silently', async () => {
    for (const [query, cap] of [
      ['{ slowQueries(limit: 501) { id } }', 500],
      ['{ tables(limit: 501) { name } }', 500],
      ['{ optimizationHistory(limit: 1001) { id } }', 1000],
      ['{ tables(limit: 0) { name } }', 500],
      ['{ tables(limit: 10, offset: 495) { name } }', 500],
    ] as const) {
      const res = await pp.gql(query);
      expect(res.errors?.[0]?.extensions?.code, query).toBe('BAD_USER_INPUT');
      expect(res.errors?.[0]?.message, query).toContain(String(cap));
    }
    const negative = await pp.gql('{ slowQueries(minMeanMs: -1) { id } }');
    expect(negative.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('pages tables with offset', async () => {
    const all = await pp.gql<{ tables: { name: string }[] }>('{ tables(limit: 3) { name } }');
    const second = await pp.gql<{ tables: { name: string }[] }>('{ tables(limit: 2, offset: 1) { name } }');
    expect(all.data!.tables.map((t) => t.name)).toEqual(['a', 'b', 'c']);
    expect(second.data!.tables.map((t) => t.name)).toEqual(['b', 'c']);
  });

  it('types the configuration and keeps the JSON one', async () => {
    const res = await pp.gql<{
      info: {
        configuration: { pool: { max: number; min: number }; queue: { capacity: number } };
        config: unknown;
      };
    }>('{ info { configuration { pool { max min } queue { capacity } } config } }');
    expect(res.errors).toBeUndefined();
    expect(res.data!.info.configuration.pool).toEqual({ max: pp.config.pool.max, min: pp.config.pool.min });
    expect(res.data!.info.configuration.queue.capacity).toBe(pp.config.queue.concurrency);
    expect(res.data!.info.config).toMatchObject({ pool: { max: pp.config.pool.max } });
  });

  it('answers the new names and the deprecated ones alike', async () => {
    const client = new pg.Client({
      connectionString: db.url(primaryUrl),
      application_name: 'schema-api-idle',
    });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT 1');
      const res = await eventually(async () => {
        const r = await pp.gql<{
          connectionStates: {
            own: number;
            poolpilot: number;
            fastpath: number;
            fastpathFunctionCall: number;
            oldestTransactionAgeMs: number | null;
            oldestTransactionMs: number | null;
            idleInTransactionSessions: {
              sessionState: string;
              state: string;
              own: boolean;
              poolpilot: boolean;
            }[];
          };
        }>(`{ connectionStates(longerThanMs: 0) { own poolpilot fastpath fastpathFunctionCall
              oldestTransactionAgeMs oldestTransactionMs
              idleInTransactionSessions { sessionState state own poolpilot } } }`);
        expect(r.data?.connectionStates.idleInTransactionSessions.length).toBeGreaterThan(0);
        return r;
      });
      const c = res.data!.connectionStates;
      expect(c.own).toBe(c.poolpilot);
      expect(c.fastpathFunctionCall).toBe(c.fastpath);
      expect(c.oldestTransactionAgeMs).not.toBeNull();
      expect(decimals(c.oldestTransactionAgeMs!, 3)).toBe(true);
      const session = c.idleInTransactionSessions.find((s) => !s.own)!;
      expect(session).toMatchObject({ sessionState: 'IDLE_IN_TRANSACTION', state: 'idle in transaction' });
      expect(session.own).toBe(session.poolpilot);
    } finally {
      await client.end();
    }
  });

  it('gives the analysis basis as an enum beside the deprecated text', async () => {
    const res = await pp.gql<{ analyzeQuery: { basedOn: string; basis: string } }>(
      'mutation { analyzeQuery(sql: "SELECT * FROM a WHERE id = 1") { basedOn basis } }',
    );
    expect(res.errors).toBeUndefined();
    const { basedOn, basis } = res.data!.analyzeQuery;
    expect(basedOn).toBe(basis.toUpperCase().replace(' ', '_'));
  });

  it('rounds latencies to the microsecond and percentages to a hundredth', async () => {
    for (let i = 0; i < 5; i++)
      await pp.gql('mutation { executeQuery(sql: "SELECT count(*) FROM a") { rowCount } }');
    const res = await pp.gql<{
      poolStats: { utilization: number; queryLatency: { meanMs: number; p50Ms: number; p99Ms: number } };
    }>('{ poolStats { utilization queryLatency { meanMs p50Ms p99Ms } } }');
    const { utilization, queryLatency } = res.data!.poolStats;
    expect(decimals(utilization, 2)).toBe(true);
    for (const ms of Object.values(queryLatency)) expect(decimals(ms, 3)).toBe(true);
    expect(queryLatency.meanMs).toBeGreaterThan(0);
  });

  it('names the subscription a sampler feeds as an enum, and its capacity as QueueStats does', async () => {
    const client = wsClient(pp.wsUrl);
    const samples = collect<{ poolUtilization: { queue: { capacity: number; concurrency: number } | null } }>(
      client,
      'subscription { poolUtilization(intervalMs: 1000) { queue { capacity concurrency } } }',
    );
    try {
      await samples.waitFor(1);
      const queue = samples.results[0]!.data!.poolUtilization.queue!;
      expect(queue.capacity).toBe(pp.config.queue.concurrency);
      expect(queue.concurrency).toBe(queue.capacity);
      const res = await pp.gql<{ telemetrySamplers: { subscription: string; stream: string }[] }>(
        '{ telemetrySamplers { subscription stream } }',
      );
      expect(res.data!.telemetrySamplers).toContainEqual({
        subscription: 'POOL_UTILIZATION',
        stream: 'poolUtilization',
      });
    } finally {
      samples.stop();
      await client.dispose();
    }
  });
});
