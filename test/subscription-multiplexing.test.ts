import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { eventually } from './harness/database.js';
import { useTestServer } from './harness/server.js';
import { type Collected, collect, wsClient } from './harness/subscriptions.js';

const VIEWER = 'viewer-token-0123456789';
const ADMIN = 'admin-token-0123456789ab';

const POOL = `subscription($ms: Int) { poolUtilization(intervalMs: $ms) {
  at seq intervalMs status
  total { total idle active waiting max utilization queries }
  targets { name role up active }
} }`;

type Pool = { poolUtilization: { seq: number } };

const bySeq = (subs: Collected<Pool>[]) => {
  const seen = new Map<number, Set<string>>();
  for (const sub of subs) {
    for (const result of sub.results) {
      const seq = result.data!.poolUtilization.seq;
      const set = seen.get(seq) ?? new Set();
      set.add(JSON.stringify(result));
      seen.set(seq, set);
    }
  }
  return seen;
};

describe('multiplexed subscriptions', () => {
  const server = useTestServer({
    DB_POOL_MIN: '1',
    API_TOKENS: `viewer:${VIEWER},admin:${ADMIN}`,
  });

  it('executes once per sample for subscribers of the same document, variables and role', async () => {
    const { pp } = server;
    const clients = Array.from({ length: 4 }, () => wsClient(pp.wsUrl, VIEWER));
    try {
      const subs = clients.flatMap((client) =>
        Array.from({ length: 5 }, () => collect<Pool>(client, POOL, { ms: 250 })),
      );
      await Promise.all(subs.map((s) => s.waitFor(4)));

      const [sampler] = pp.poolpilot.telemetry.samplers();
      expect(pp.poolpilot.telemetry.samplers()).toHaveLength(1);
      expect(sampler).toMatchObject({ stream: 'poolUtilization', subscribers: 20, groups: 1 });
      // One execution per sample for the group, not one per subscriber.
      expect(sampler!.handedOut).toBeGreaterThanOrEqual(4);
      expect(sampler!.handedOut).toBeLessThanOrEqual(sampler!.samplesTaken);

      // Every subscriber got byte-for-byte the same payload for a given sample.
      for (const payloads of bySeq(subs).values()) expect(payloads.size).toBe(1);

      const { data } = await pp.gql<{
        telemetrySamplers: {
          subscribers: number;
          groups: number;
          executions: number;
          samplesTaken: number;
        }[];
      }>('{ telemetrySamplers { subscribers groups executions samplesTaken } }', undefined, VIEWER);
      const shown = data!.telemetrySamplers[0]!;
      expect(shown).toMatchObject({ subscribers: 20, groups: 1 });
      expect(shown.executions).toBeLessThanOrEqual(shown.samplesTaken);

      for (const s of subs) s.stop();
      await eventually(() => pp.poolpilot.telemetry.samplers().length === 0);
    } finally {
      await Promise.all(clients.map((c) => c.dispose()));
    }
  });

  it('keeps different variables and different roles in different groups', async () => {
    const { pp } = server;
    const viewer = wsClient(pp.wsUrl, VIEWER);
    const admin = wsClient(pp.wsUrl, ADMIN);
    try {
      // 250 and 240 share a sampler (240 rounds up to 250) but not a group: the variables differ.
      const same = Array.from({ length: 6 }, () => collect<Pool>(viewer, POOL, { ms: 250 }));
      const otherVariables = Array.from({ length: 3 }, () => collect<Pool>(viewer, POOL, { ms: 240 }));
      const otherRole = Array.from({ length: 2 }, () => collect<Pool>(admin, POOL, { ms: 250 }));
      const all = [...same, ...otherVariables, ...otherRole];
      await Promise.all(all.map((s) => s.waitFor(3)));

      const samplers = pp.poolpilot.telemetry.samplers();
      expect(samplers).toHaveLength(1);
      expect(samplers[0]).toMatchObject({ subscribers: 11, groups: 3 });
      expect(samplers[0]!.handedOut).toBeLessThanOrEqual(3 * samplers[0]!.samplesTaken);
      expect(samplers[0]!.handedOut).toBeGreaterThanOrEqual(9);

      // Leaving a group leaves the others running.
      for (const s of otherRole) s.stop();
      await eventually(() => pp.poolpilot.telemetry.samplers()[0]?.groups === 2);
      expect(pp.poolpilot.telemetry.samplers()[0]!.subscribers).toBe(9);
      const before = same[0]!.results.length;
      await same[0]!.waitFor(before + 1);
      for (const s of [...same, ...otherVariables]) s.stop();
      await eventually(() => pp.poolpilot.telemetry.samplers().length === 0);
    } finally {
      await Promise.all([viewer.dispose(), admin.dispose()]);
    }
  });

  it('sends complete to a group member that completes, and keeps serving the rest', async () => {
    const { pp } = server;
    const socket = new WebSocket(pp.wsUrl, 'graphql-transport-ws');
    const messages: { id?: string; type: string }[] = [];
    try {
      await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
      socket.on('message', (raw) => messages.push(JSON.parse(String(raw))));
      socket.send(
        JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${VIEWER}` } }),
      );
      await eventually(() => messages.some((m) => m.type === 'connection_ack'));
      for (const id of ['a', 'b']) {
        socket.send(
          JSON.stringify({ id, type: 'subscribe', payload: { query: POOL, variables: { ms: 250 } } }),
        );
      }
      await eventually(() => messages.filter((m) => m.id === 'b' && m.type === 'next').length >= 2);
      socket.send(JSON.stringify({ id: 'a', type: 'complete' }));
      await eventually(() => pp.poolpilot.telemetry.samplers()[0]?.subscribers === 1);
      const aBefore = messages.filter((m) => m.id === 'a').length;
      const bBefore = messages.filter((m) => m.id === 'b').length;
      await eventually(() => messages.filter((m) => m.id === 'b').length >= bBefore + 2);
      expect(messages.filter((m) => m.id === 'a').length).toBe(aBefore);
    } finally {
      socket.terminate();
    }
    await eventually(() => pp.poolpilot.telemetry.samplers().length === 0);
  });
});
