import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { silentLogger } from '../src/core/index.js';
import { SamplerRegistry } from '../src/core/telemetry/index.js';
import { createTestDatabase, eventually, type TestDatabase } from './harness/database.js';
import { type RunningPoolpilot, startPoolpilot } from './harness/server.js';

const { primaryUrl } = inject('databases');
// Enough to fill the socket buffers quickly; above the default WS_MAX_SUBSCRIPTIONS, hence the setting below.
const SUBSCRIPTIONS = 200;
const QUERY = `subscription { poolUtilization(intervalMs: 250) {
  at seq intervalMs elapsedMs status
  total { total idle active waiting max utilization acquireWaitP95Ms queriesPerSecond queries errors }
  targets { name role up total idle active waiting max utilization acquireWaitP95Ms queriesPerSecond queries errors }
  queue { depth running concurrency }
} }`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a subscriber that stops reading', () => {
  it('holds at most one sample per subscriber, whatever the backlog would have been', async () => {
    let n = 0;
    const registry = new SamplerRegistry(silentLogger, { minMs: 5, maxMs: 1_000, defaultMs: 5 });
    const reader = registry.subscribe('counter', 5, () => async () => ++n);
    const sleeper = registry.subscribe('counter', 5, () => async () => ++n);
    try {
      for (let i = 0; i < 100; i++) await reader.next();
      expect(sleeper.buffered).toBe(1);
      expect(sleeper.superseded).toBeGreaterThanOrEqual(90);
      // It wakes up to the newest sample, not the oldest.
      const { value } = await sleeper.next();
      expect(value).toBeGreaterThanOrEqual(100);
    } finally {
      registry.close();
    }
  });

  describe('over WebSocket', () => {
    let db: TestDatabase;
    let pp: RunningPoolpilot;
    let socket: WebSocket | undefined;

    beforeAll(async () => {
      db = await createTestDatabase(primaryUrl);
      pp = await startPoolpilot({
        DATABASE_URL: db.url(primaryUrl),
        DB_POOL_MIN: '1',
        WS_MAX_SUBSCRIPTIONS: '200',
      });
    });
    afterAll(async () => {
      socket?.terminate();
      await pp?.close();
      await db?.drop();
    });

    it('stops sending while the client does not read, then sends the newest samples', async () => {
      const received = new Map<string, number[]>();
      socket = new WebSocket(pp.wsUrl, 'graphql-transport-ws');
      const ws = socket;
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      ws.on('message', (raw) => {
        const message = JSON.parse(String(raw));
        if (message.type !== 'next') return;
        const seqs = received.get(message.id) ?? [];
        seqs.push(message.payload.data.poolUtilization.seq);
        received.set(message.id, seqs);
      });
      ws.send(JSON.stringify({ type: 'connection_init' }));
      await eventually(() => ws.readyState === WebSocket.OPEN);
      await sleep(100);
      for (let i = 0; i < SUBSCRIPTIONS; i++) {
        ws.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: { query: QUERY } }));
      }
      await eventually(() => received.size === SUBSCRIPTIONS, 20_000);
      const info = () => pp.poolpilot.telemetry.samplers()[0]!;
      expect(pp.poolpilot.telemetry.samplers()).toHaveLength(1);

      ws.pause();
      // Kernel buffers absorb a few MB first; then the server has to stop.
      let before = info();
      await eventually(
        async () => {
          await sleep(1_500);
          const now = info();
          const stalled = now.delivered === before.delivered && now.samplesTaken > before.samplesTaken;
          before = now;
          return stalled;
        },
        45_000,
        0,
      );
      const stalled = info();
      await sleep(2_000);
      const later = info();
      // Sampling went on; nothing more was handed over; the samples skipped are counted, not kept.
      expect(later.samplesTaken).toBeGreaterThan(stalled.samplesTaken + 3);
      expect(later.delivered).toBe(stalled.delivered);
      expect(later.superseded).toBeGreaterThan(stalled.superseded);
      const backlogWouldBe = SUBSCRIPTIONS * later.samplesTaken;
      expect(later.delivered).toBeLessThan(backlogWouldBe);

      const latest = later.samplesTaken;
      ws.resume();
      // Every subscription catches up to a sample at least as new as the one taken at resume time.
      await eventually(() => [...received.values()].every((seqs) => seqs.at(-1)! >= latest), 30_000);
      const counts = [...received.values()].map((seqs) => seqs.length);
      expect(Math.max(...counts)).toBeLessThan(info().samplesTaken);
    });
  });
});
