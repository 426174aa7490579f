import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { INTERVAL_LIMITS } from '../src/core/telemetry/index.js';
import { OPERATION_LIMITS } from '../src/server/limits.js';
import { eventually, run } from './harness/database.js';
import { type RunningPoolpilot, useTestServer } from './harness/server.js';
import { collect, wsClient } from './harness/subscriptions.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Message {
  id?: string;
  type: string;
  payload?: any;
}

/** A raw graphql-transport-ws socket, acknowledged, collecting every message by id. */
async function openSocket(wsUrl: string) {
  const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
  const byId = new Map<string, Message[]>();
  socket.on('message', (raw) => {
    const message = JSON.parse(String(raw)) as Message;
    if (message.id === undefined) return;
    const list = byId.get(message.id) ?? [];
    list.push(message);
    byId.set(message.id, list);
  });
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  const acked = new Promise((resolve) =>
    socket.on('message', (raw) => JSON.parse(String(raw)).type === 'connection_ack' && resolve(true)),
  );
  socket.send(JSON.stringify({ type: 'connection_init' }));
  await acked;
  const subscribe = (id: string, query: string) =>
    socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query } }));
  return { socket, byId, subscribe };
}

describe('one connection asking for 1,500 distinct intervals', () => {
  const SUBSCRIPTIONS = 1_500;
  // 250, 290, 330 ... ms: every one distinct, spanning all eight steps.
  const interval = (i: number) => 250 + i * 40;

  async function flood(wsUrl: string) {
    const open = await openSocket(wsUrl);
    for (let i = 0; i < SUBSCRIPTIONS; i++) {
      open.subscribe(
        String(i),
        `subscription { connectionStates(intervalMs: ${interval(i)}) { seq intervalMs total } }`,
      );
    }
    await eventually(() => open.byId.size === SUBSCRIPTIONS, 60_000);
    return open;
  }

  /** Pool figures while the samplers run, then an operator's SELECT 1. */
  async function poolUnderSampling(pp: RunningPoolpilot) {
    let maxActive = 0;
    let maxWaiting = 0;
    const pool = pp.poolpilot.cluster.primary.pool;
    const until = Date.now() + 2_500;
    while (Date.now() < until) {
      const state = pool.state();
      maxActive = Math.max(maxActive, state.active);
      maxWaiting = Math.max(maxWaiting, state.waiting);
      await sleep(5);
    }
    return { maxActive, maxWaiting, ...(await selectOne(pp)) };
  }

  async function selectOne(pp: RunningPoolpilot) {
    const started = performance.now();
    const res = await pp.gql<{ executeQuery: { rows: unknown[] } }>(
      'mutation { executeQuery(sql: "SELECT 1 AS one") { rows } }',
    );
    return { selectMs: performance.now() - started, res };
  }

  describe('with the default cap', () => {
    const server = useTestServer({ DB_POOL_MIN: '1', DB_POOL_SIZE: '20' });

    it('accepts WS_MAX_SUBSCRIPTIONS of them on shared samplers, and SELECT 1 gets a connection at once', async () => {
      const { poolpilot } = server.pp;
      const idle = await selectOne(server.pp);
      console.log(`default cap: SELECT 1 before the flood ${idle.selectMs.toFixed(1)} ms`);
      const { socket, byId } = await flood(server.pp.wsUrl);
      try {
        await eventually(() =>
          [...byId.values()].every((m) => m.some((x) => x.type === 'next' || x.type === 'error')),
        );
        const refused = [...byId.values()].filter((m) => m.some((x) => x.type === 'error'));
        expect(refused).toHaveLength(SUBSCRIPTIONS - 100);
        expect(refused[0]!.find((x) => x.type === 'error')!.payload[0].extensions.code).toBe(
          'BAD_USER_INPUT',
        );

        const samplers = poolpilot.telemetry.samplers();
        console.log(`default cap: ${SUBSCRIPTIONS - refused.length} accepted, ${samplers.length} samplers`);
        expect(samplers.length).toBeLessThanOrEqual(INTERVAL_LIMITS.stepsMs!.length);
        expect(samplers.every((s) => INTERVAL_LIMITS.stepsMs!.includes(s.intervalMs))).toBe(true);
        // The answer says the interval in effect: 1,210 ms asked → 2,000 ms.
        const asked1210 = byId.get(String((1_210 - 250) / 40))!.find((m) => m.type === 'next')!;
        expect(asked1210.payload.data.connectionStates.intervalMs).toBe(2_000);

        const { maxActive, maxWaiting, selectMs, res } = await poolUnderSampling(server.pp);
        console.log(
          `default cap: pool at most ${maxActive} active, ${maxWaiting} waiting; SELECT 1 ${selectMs.toFixed(1)} ms`,
        );
        // One for the shared sampling query, one for a health check that may coincide.
        expect(maxActive).toBeLessThanOrEqual(2);
        expect(maxWaiting).toBe(0);
        expect(res.errors).toBeUndefined();
        expect(res.data!.executeQuery.rows).toEqual([{ one: 1 }]);
      } finally {
        socket.terminate();
      }
      await eventually(() => poolpilot.telemetry.samplers().length === 0);
    });
  });

  describe('with the cap lifted', () => {
    const server = useTestServer({ DB_POOL_MIN: '1', DB_POOL_SIZE: '20', WS_MAX_SUBSCRIPTIONS: '2000' });

    it('runs all 1,500 on at most eight samplers holding at most one pooled connection', async () => {
      const { poolpilot } = server.pp;
      const idle = await selectOne(server.pp);
      console.log(`cap lifted: SELECT 1 before the flood ${idle.selectMs.toFixed(1)} ms`);
      const { socket } = await flood(server.pp.wsUrl);
      try {
        const samplers = poolpilot.telemetry.samplers();
        console.log(`cap lifted: ${samplers.length} samplers for ${SUBSCRIPTIONS} distinct intervals`);
        expect(samplers.length).toBeLessThanOrEqual(INTERVAL_LIMITS.stepsMs!.length);
        const { maxActive, maxWaiting, selectMs, res } = await poolUnderSampling(server.pp);
        console.log(
          `cap lifted: pool at most ${maxActive} active, ${maxWaiting} waiting; SELECT 1 ${selectMs.toFixed(1)} ms`,
        );
        expect(maxActive).toBeLessThanOrEqual(2);
        expect(maxWaiting).toBe(0);
        expect(res.errors).toBeUndefined();
      } finally {
        socket.terminate();
      }
      await eventually(() => poolpilot.telemetry.samplers().length === 0);
    });
  });
});

describe('per-connection operation cap', () => {
  const server = useTestServer({ DB_POOL_MIN: '1', WS_MAX_SUBSCRIPTIONS: '5' });

  it('refuses the subscription past WS_MAX_SUBSCRIPTIONS with a clear error and keeps the others', async () => {
    const { socket, byId, subscribe } = await openSocket(server.pp.wsUrl);
    try {
      for (let i = 0; i < 6; i++) subscribe(String(i), 'subscription { poolUtilization { seq } }');
      await eventually(() => byId.get('5')?.some((m) => m.type === 'error'));
      const error = byId.get('5')!.find((m) => m.type === 'error')!.payload[0];
      expect(error.extensions.code).toBe('BAD_USER_INPUT');
      expect(error.message).toMatch(/at most 5 at once \(WS_MAX_SUBSCRIPTIONS\)/);
      await eventually(() =>
        [0, 1, 2, 3, 4].every((i) => byId.get(String(i))?.some((m) => m.type === 'next')),
      );

      // Completing one frees a place.
      socket.send(JSON.stringify({ id: '0', type: 'complete' }));
      await sleep(100);
      subscribe('6', 'subscription { poolUtilization { seq } }');
      await eventually(() => byId.get('6')?.some((m) => m.type === 'next'));
    } finally {
      socket.terminate();
    }
  });
});

describe('statement fields per operation', () => {
  const server = useTestServer({ DB_POOL_MIN: '1' });
  const MAX = OPERATION_LIMITS.maxStatementFields;

  it(`runs at most ${MAX} executeQuery/executeTransaction/analyzeQuery fields, counted through fragments`, async () => {
    const dbUrl = server.pp.config.primary!.connectionString;
    await run(dbUrl, 'CREATE TABLE hits (n int)');
    const field = (i: number) => `q${i}: executeQuery(sql: "INSERT INTO hits VALUES (${i})") { rowCount }`;
    const many = await server.pp.gql(
      `mutation { ${Array.from({ length: MAX + 1 }, (_, i) => field(i)).join('\n')} }`,
    );
    expect(many.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(many.errors?.[0]?.message).toMatch(new RegExp(`at most ${MAX} .* got ${MAX + 1}`));

    const fragmentFields = Array.from(
      { length: MAX + 1 },
      (_, i) => `a${i}: analyzeQuery(sql: "SELECT ${i}") { complexity }`,
    ).join(' ');
    const spread = await server.pp.gql(
      `mutation { ... on Mutation { z: executeQuery(sql: "INSERT INTO hits VALUES (1)") { rowCount } } ...F }
       fragment F on Mutation { ${fragmentFields} }`,
    );
    expect(spread.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await run(dbUrl, 'SELECT count(*)::int AS n FROM hits')).rows[0].n).toBe(0);

    const fine = await server.pp.gql(
      `mutation { ${Array.from({ length: MAX }, (_, i) => field(i)).join('\n')} }`,
    );
    expect(fine.errors).toBeUndefined();
    expect((await run(dbUrl, 'SELECT count(*)::int AS n FROM hits')).rows[0].n).toBe(MAX);
  });

  it('keeps subscriptions of the same interval step on one sampler', async () => {
    const client = wsClient(server.pp.wsUrl);
    try {
      const a = collect(client, 'subscription { poolUtilization(intervalMs: 300) { intervalMs } }');
      const b = collect(client, 'subscription { poolUtilization(intervalMs: 480) { intervalMs } }');
      await Promise.all([a.waitFor(1), b.waitFor(1)]);
      expect(a.results[0]!.data!.poolUtilization.intervalMs).toBe(500);
      expect(server.pp.poolpilot.telemetry.samplers()).toEqual([
        expect.objectContaining({ stream: 'poolUtilization', intervalMs: 500, subscribers: 2 }),
      ]);
      a.stop();
      b.stop();
    } finally {
      await client.dispose();
    }
  });
});
