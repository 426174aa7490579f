import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import type { CpuSample, SampleStream } from '../src/core/telemetry/index.js';
import { useTestCore } from './harness/server.js';

const databases = inject('databases');
const BURNERS = 2;

async function samples(stream: SampleStream<CpuSample>, n: number): Promise<CpuSample[]> {
  const out: CpuSample[] = [];
  while (out.length < n) {
    const { value, done } = await stream.next();
    if (done) break;
    out.push(value);
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe('PostgreSQL CPU samples', () => {
  const server = useTestCore({ DB_POOL_MIN: '1' });

  it('finds the local server, rises while a query burns CPU and falls when it stops', async (ctx) => {
    const stream = server.poolpilot.telemetry.containerCpu(500);
    const burners: pg.Client[] = [];
    try {
      const [first] = await samples(stream, 1);
      if (first!.source === 'none' && databases.source === 'external') {
        ctx.skip(`the test database is not on this machine: ${first!.skipped.join('; ')}`);
      }
      expect(first!.source, first!.skipped.join('; ')).toBe('proc');
      expect(first!.skipped[0]).toMatch(/^docker: DB_CONTAINER is not set/);
      expect(first!.detail).toMatch(/^postmaster pid \d+$/);
      expect(first!.percentOfOneCore).toBeTypeOf('number');
      expect(first!.memoryBytes).toBeGreaterThan(0);
      expect(first!.loadAverage).toHaveLength(3);

      const baseline = median((await samples(stream, 3)).map((s) => s.percentOfOneCore!));

      let burning = true;
      const burn = async () => {
        const client = new pg.Client({ connectionString: server.url });
        await client.connect();
        burners.push(client);
        while (burning) await client.query('SELECT count(*) FROM generate_series(1, 3e7)');
      };
      const loops = Array.from({ length: BURNERS }, burn);
      // Two cores shared with whoever else runs tests: look for a clear rise, not a figure.
      const busy = await samples(stream, 6);
      const peak = Math.max(...busy.map((s) => s.percentOfOneCore!));
      burning = false;
      await Promise.all(loops);
      expect(peak).toBeGreaterThan(baseline + 40);
      expect(Math.max(...busy.map((s) => s.percentOfAllCores!))).toBeLessThanOrEqual(100.5);

      let settled = Number.POSITIVE_INFINITY;
      for (let i = 0; i < 20 && settled >= peak / 2; i++)
        settled = (await samples(stream, 1))[0]!.percentOfOneCore!;
      expect(settled).toBeLessThan(peak / 2);
    } finally {
      await stream.return();
      await Promise.all(burners.map((c) => c.end().catch(() => undefined)));
    }
  });
});
