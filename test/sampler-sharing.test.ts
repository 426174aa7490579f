import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CONNECTION_STATES_SQL } from '../src/core/telemetry/sql.js';
import { createTestDatabase, eventually, run, type TestDatabase } from './harness/database.js';
import { type RunningPoolpilot, startPoolpilot } from './harness/server.js';
import { collect, wsClient } from './harness/subscriptions.js';

const { primaryUrl } = inject('databases');
const SUBSCRIBERS = 8;

/** Times the sampling query ran in this file's database, from pg_stat_statements. */
async function samplingCalls(dbUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT coalesce(sum(calls), 0)::int AS calls FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND query LIKE '%FROM pg_stat_activity a%' AND query LIKE '%pg_blocking_pids%'`,
    );
    return rows[0].calls;
  } finally {
    await client.end();
  }
}

describe('one sampler per stream and interval', () => {
  let db: TestDatabase;
  let pp: RunningPoolpilot;

  beforeAll(async () => {
    db = await createTestDatabase(primaryUrl);
    await run(db.adminUrl(primaryUrl), 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    pp = await startPoolpilot({ DATABASE_URL: db.url(primaryUrl), DB_POOL_MIN: '1' });
  });
  afterAll(async () => {
    await pp?.close();
    await db?.drop();
  });

  it('queries once per interval whatever the number of subscribers, and stops after the last', async () => {
    expect(CONNECTION_STATES_SQL).toContain('pg_blocking_pids');
    const telemetry = pp.poolpilot.telemetry;
    const client = wsClient(pp.wsUrl);
    const query = 'subscription { connectionStates(intervalMs: 250) { seq total } }';
    try {
      const subs = Array.from({ length: SUBSCRIBERS }, () => collect(client, query));
      await Promise.all(subs.map((s) => s.waitFor(6)));

      const running = telemetry.samplers();
      expect(running).toHaveLength(1);
      expect(running[0]).toMatchObject({
        stream: 'connectionStates',
        intervalMs: 250,
        subscribers: SUBSCRIBERS,
      });

      // Every subscriber saw the same samples: one sequence, not one per subscriber.
      const lastSeqs = subs.map((s) => s.results.at(-1)!.data!.connectionStates.seq as number);
      const taken = telemetry.samplers()[0]!.samplesTaken;
      expect(Math.max(...lastSeqs)).toBeLessThanOrEqual(taken);

      // The database agrees: calls track samples taken, not samples × subscribers.
      const calls = await eventually(async () => {
        const n = await samplingCalls(db.adminUrl(primaryUrl));
        return n >= 6 ? n : 0;
      });
      const takenNow = telemetry.samplers()[0]!.samplesTaken;
      expect(calls).toBeLessThanOrEqual(takenNow + 1);
      expect(calls).toBeLessThan(SUBSCRIBERS * 6);

      // A second interval is a second sampler; leaving it alone does not stop the first.
      const other = collect(client, 'subscription { connectionStates(intervalMs: 500) { seq } }');
      await other.waitFor(1);
      expect(
        telemetry
          .samplers()
          .map((s) => s.intervalMs)
          .sort(),
      ).toEqual([250, 500]);
      other.stop();
      await eventually(() => telemetry.samplers().length === 1);

      for (const s of subs.slice(1)) s.stop();
      await eventually(() => telemetry.samplers()[0]?.subscribers === 1);
      subs[0]!.stop();
      await eventually(() => telemetry.samplers().length === 0);

      // Stopped: no more sampling queries.
      const after = await samplingCalls(db.adminUrl(primaryUrl));
      await new Promise((r) => setTimeout(r, 1_000));
      expect(await samplingCalls(db.adminUrl(primaryUrl))).toBe(after);
    } finally {
      await client.dispose();
    }
  });

  it('shares the pool sampler the same way', async () => {
    const telemetry = pp.poolpilot.telemetry;
    const streams = Array.from({ length: SUBSCRIBERS }, () => telemetry.poolUtilization(250));
    try {
      const firsts = await Promise.all(streams.map((s) => s.next()));
      expect(new Set(firsts.map((r) => r.value!.seq))).toEqual(new Set([1]));
      const seconds = await Promise.all(streams.map((s) => s.next()));
      expect(new Set(seconds.map((r) => r.value!.seq))).toEqual(new Set([2]));
      const [sampler] = telemetry.samplers();
      expect(telemetry.samplers()).toHaveLength(1);
      expect(sampler!.subscribers).toBe(SUBSCRIBERS);
      expect(sampler!.samplesTaken).toBeLessThan(SUBSCRIBERS);
    } finally {
      await Promise.all(streams.map((s) => s.return()));
    }
    expect(telemetry.samplers()).toEqual([]);
  });
});
