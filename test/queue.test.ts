import { describe, expect, inject, it } from 'vitest';
import { ComplexQueue } from '../src/core/queue/index.js';
import { eventually, run } from './harness/database.js';
import { useTestServer } from './harness/server.js';

const { primaryUrl } = inject('databases');

/** A task the test finishes by hand. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

describe('complex-query queue (logic)', () => {
  it('runs at most `concurrency` at once and starts waiters in FIFO order', async () => {
    const queue = new ComplexQueue({ concurrency: 2, max: 10, timeoutMs: 60_000 });
    const started: number[] = [];
    const gates = Array.from({ length: 5 }, () => gate());
    const runs = gates.map((g, i) =>
      queue.run(async () => {
        started.push(i);
        await g.opened;
        return i;
      }),
    );
    await eventually(() => started.length === 2);
    expect(queue.state()).toMatchObject({ running: 2, depth: 3, concurrency: 2 });
    gates[1]!.open();
    await eventually(() => started.length === 3);
    expect(started).toEqual([0, 1, 2]);
    gates[0]!.open();
    await eventually(() => started.length === 4);
    gates[2]!.open();
    gates[3]!.open();
    gates[4]!.open();
    const values = await Promise.all(runs);
    expect(values.map((v) => v.value)).toEqual([0, 1, 2, 3, 4]);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(values[0]!.waitMs).toBe(0);
    expect(values[4]!.waitMs).toBeGreaterThan(0);
    expect(queue.state()).toMatchObject({ running: 0, depth: 0, completed: 5 });
  });

  it('refuses at once when full, and after the timeout when a waiter waited too long', async () => {
    const queue = new ComplexQueue({ concurrency: 1, max: 1, timeoutMs: 150 });
    const g = gate();
    const first = queue.run(() => g.opened);
    const second = queue.run(async () => 'never').catch((e) => e);
    const third = await queue.run(async () => 'never').catch((e) => e);
    expect(third.code).toBe('QUEUE_FULL');
    expect(third.message).toMatch(/full/);
    const timedOut = await second;
    expect(timedOut.code).toBe('QUEUE_FULL');
    expect(timedOut.message).toMatch(/waited \d+ ms/);
    g.open();
    await first;
    expect(queue.state()).toMatchObject({ rejected: 1, timedOut: 1, completed: 1, running: 0, depth: 0 });
  });

  it('frees the slot when a task fails and drops a waiter whose caller went away', async () => {
    const queue = new ComplexQueue({ concurrency: 1, max: 5, timeoutMs: 60_000 });
    const g = gate();
    const running = queue.run(async () => {
      await g.opened;
      throw new Error('boom');
    });
    const controller = new AbortController();
    const waiting = queue.run(async () => 'x', controller.signal).catch((e) => e);
    controller.abort();
    expect((await waiting).message).toMatch(/cancelled/);
    g.open();
    await expect(running).rejects.toThrow('boom');
    expect((await queue.run(async () => 'after')).value).toBe('after');
    expect(queue.state()).toMatchObject({ running: 0, depth: 0, failed: 1, cancelled: 1 });
  });
});

describe('complex-query queue (against PostgreSQL)', () => {
  // Slow enough to overlap, complex by construction: window + join + sort without LIMIT.
  const slow = (ms: number, n: number) =>
    `SELECT g, pg_sleep(${ms / 1000}) IS NULL AS slept, rank() OVER (ORDER BY g DESC) AS r, ${n} AS n
     FROM generate_series(1, 1) g JOIN generate_series(1, 1) h ON h = g
     JOIN (SELECT DISTINCT x FROM generate_series(1, 1) x) d ON d.x = g ORDER BY r`;

  const server = useTestServer(
    {
      DB_POOL_MIN: '0',
      DB_POOL_SIZE: '8',
      COMPLEX_QUEUE_CONCURRENCY: '2',
      COMPLEX_QUEUE_MAX: '3',
      COMPLEX_QUEUE_TIMEOUT_MS: '20000',
      ROUTE_COMPLEX_THRESHOLD: '40',
    },
    { prefix: 'pp_queue' },
  );

  it('caps running complex statements, overflows with QUEUE_FULL and leaks no connection', async () => {
    const texts = Array.from({ length: 6 }, (_, i) => slow(1500, i));
    // Analysed up front, so all six reach the queue at once.
    for (const text of texts)
      expect((await server.pp.poolpilot.analyzer.analyze(text)).route).toBe('COMPLEX');
    const calls = texts.map((text) => server.pp.poolpilot.execute(text).catch((e) => e));
    await eventually(async () => {
      const { rows } = await run(
        primaryUrl,
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND query LIKE '%pg_sleep%' AND state = 'active' AND pid <> pg_backend_pid()",
        [server.db.name],
      );
      return rows[0].n === 2;
    });
    expect(server.pp.poolpilot.queue.state()).toMatchObject({ running: 2, depth: 3 });
    const results = await Promise.all(calls);
    const refused = results.filter((r) => r instanceof Error);
    expect(refused).toHaveLength(1);
    expect((refused[0] as any).code).toBe('QUEUE_FULL');
    const done = results.filter((r) => !(r instanceof Error));
    expect(done).toHaveLength(5);
    expect(done.every((r: any) => r.queued)).toBe(true);
    expect(done.filter((r: any) => r.queueWaitMs > 500).length).toBeGreaterThanOrEqual(3);
    expect(server.pp.poolpilot.queue.state()).toMatchObject({ running: 0, depth: 0, rejected: 1 });
    const pool = server.pp.poolpilot.cluster.primary.pool.state();
    expect(pool.active).toBe(0);
    expect(pool.waiting).toBe(0);
  });

  it('times a waiter out with QUEUE_FULL naming the wait, and shows the queue in poolStats', async () => {
    const { poolpilot } = server.pp;
    const shortQueue = new ComplexQueue({ concurrency: 1, max: 5, timeoutMs: 300 });
    const g = gate();
    const hold = shortQueue.run(() => g.opened);
    const waited = await shortQueue.run(() => poolpilot.execute('SELECT 1')).catch((e) => e);
    g.open();
    await hold;
    expect(waited.code).toBe('QUEUE_FULL');
    expect(waited.message).toMatch(/waited \d+ ms/);
    const res = await server.pp.gql<any>(
      '{ poolStats { queue { depth running capacity max timeoutMs rejected completed } } }',
    );
    expect(res.errors).toBeUndefined();
    expect(res.data.poolStats.queue).toMatchObject({
      depth: 0,
      running: 0,
      capacity: 2,
      max: 3,
      timeoutMs: 20000,
      rejected: 1,
    });
    expect(res.data.poolStats.queue.completed).toBeGreaterThanOrEqual(5);
  });
});
