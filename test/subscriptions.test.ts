import { describe, expect, it } from 'vitest';
import { eventually } from './harness/database.js';
import { useTestServer } from './harness/server.js';
import { collect, wsClient } from './harness/subscriptions.js';

const VIEWER = 'viewer-token-0123456789';

const POOL = `subscription($ms: Int) { poolUtilization(intervalMs: $ms) {
  at seq intervalMs elapsedMs status
  total { total idle active waiting max utilization queriesPerSecond queries errors acquireWaitP95Ms }
  targets { name role up active utilization }
  queue { depth running }
} }`;

/** Reads `event: next` messages from a Yoga SSE response until `n` arrived. */
async function readSse(res: Response, n: number): Promise<any[]> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const events: any[] = [];
  let buffer = '';
  try {
    while (events.length < n) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trim())
          .join('');
        if (block.includes('event: next') && data) events.push(JSON.parse(data));
        end = buffer.indexOf('\n\n');
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return events;
}

describe('telemetry subscriptions', () => {
  const server = useTestServer({ DB_POOL_MIN: '1', API_TOKENS: `viewer:${VIEWER}` });

  it('streams poolUtilization over graphql-ws, the first sample at once, intervals clamped', async () => {
    const client = wsClient(server.pp.wsUrl, VIEWER);
    try {
      const sub = collect(client, POOL, { ms: 10 });
      await sub.waitFor(3);
      sub.stop();
      const samples = sub.results.map((r) => {
        expect(r.errors).toBeUndefined();
        return r.data!.poolUtilization;
      });
      expect(samples[0].intervalMs).toBe(250);
      expect(samples[0].elapsedMs).toBe(0);
      expect(samples[1].seq).toBe(samples[0].seq + 1);
      expect(samples[1].elapsedMs).toBeGreaterThan(0);
      expect(samples[0].targets[0]).toMatchObject({ name: 'primary', role: 'PRIMARY', up: true });
      expect(samples[0].total.max).toBe(20);
    } finally {
      await client.dispose();
    }
  });

  it('streams all three over one connection', async () => {
    const client = wsClient(server.pp.wsUrl, VIEWER);
    try {
      const cpu = collect(
        client,
        'subscription { containerCpu(intervalMs: 250) { source percentOfOneCore cores skipped } }',
      );
      const states = collect(
        client,
        'subscription { connectionStates(intervalMs: 250) { total idle active error own { total } byDatabase { name total } } }',
      );
      await Promise.all([cpu.waitFor(2), states.waitFor(2)]);
      cpu.stop();
      states.stop();
      expect(cpu.results[1]!.errors).toBeUndefined();
      expect(cpu.results[1]!.data!.containerCpu.source).toBeTypeOf('string');
      const state = states.results[1]!.data!.connectionStates;
      expect(state.error).toBeNull();
      expect(state.byDatabase.map((d: { name: string }) => d.name)).toContain(server.db.name);
    } finally {
      await client.dispose();
    }
  });

  it('streams over Server-Sent Events for curl -N', async () => {
    const res = await fetch(
      `${server.pp.url}/graphql?query=${encodeURIComponent('subscription { poolUtilization(intervalMs: 250) { seq total { max } } }')}`,
      {
        headers: { accept: 'text/event-stream', authorization: `Bearer ${VIEWER}` },
      },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events = await readSse(res, 2);
    expect(events).toHaveLength(2);
    expect(events[0].data.poolUtilization.total.max).toBe(20);
    expect(events[1].data.poolUtilization.seq).toBeGreaterThan(events[0].data.poolUtilization.seq);
    // The client went away: its subscription ends and the sampler with it.
    await eventually(() => server.pp.poolpilot.telemetry.samplers().length === 0);
  });

  it('refuses a subscription without a valid token', async () => {
    const res = await fetch(
      `${server.pp.url}/graphql?query=${encodeURIComponent('subscription { poolUtilization { seq } }')}`,
      {
        headers: { accept: 'text/event-stream' },
      },
    );
    const text = await res.text();
    expect(text).toContain('UNAUTHENTICATED');
    expect(text).not.toContain('"seq"');
    await eventually(() => server.pp.poolpilot.telemetry.samplers().length === 0);
  });
});
