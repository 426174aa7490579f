import { describe, expect, inject, it } from 'vitest';
import {
  coreActors,
  type MixedOptions,
  R_ROWS,
  runMixed,
  SEED_SQL,
  wireActors,
} from '../support/mixed-workload.js';
import { eventually, run } from './harness/database.js';
import { useTestCore } from './harness/server.js';
import { useWire } from './harness/wire.js';

/**
 * The mixed workload of `npm run bench:mixed`, short and untimed: what is asserted is that the
 * writing session never reads anything older than its own acknowledged writes, and that reads
 * of the unwritten table do reach the replica (the shares themselves are the benchmark's).
 */
const { replicaUrl } = inject('databases');
const OPTIONS: MixedOptions = { seconds: 2, writesPerSecond: 30, readers: 2, readerPauseMs: 5 };
const ENV = { DB_POOL_MIN: '1', DB_POOL_SIZE: '6', DB_REPLICA_MAX_LAG_MS: '60000' };

describe('mixed workload: read-your-writes holds for the writer, replicas serve the rest', () => {
  const core = useTestCore(ENV, {
    replica: true,
    prefix: 'pp_mixed',
    seed: async ({ url, replicaUrl }) => {
      await run(url, SEED_SQL);
      await eventually(
        async () => (await run(replicaUrl!, 'SELECT count(*)::int AS n FROM r')).rows[0].n === R_ROWS,
      );
    },
  });

  it('through the core session API', async () => {
    await eventually(() => core.poolpilot.cluster.replicas[0]!.isUp);
    const report = await runMixed(coreActors(core.poolpilot, OPTIONS.readers), OPTIONS);
    expect(report.firstError).toBeNull();
    expect(report.writes).toBeGreaterThan(0);
    expect(report.writerReads).toBe(report.writes);
    expect(report.violations).toBe(0);
    expect(report.r.onReplica).toBeGreaterThan(0);
  });
});

describe('mixed workload through the wire front', () => {
  const wire = useWire(ENV, { replica: true, prefix: 'pp_mixed_wire', setup: SEED_SQL });

  it('each wire client is its own session', async () => {
    // The tables exist on the replica before readers are sent there.
    await eventually(
      async () =>
        (await run(wire.front.db.url(replicaUrl!), 'SELECT count(*)::int AS n FROM r')).rows[0].n === R_ROWS,
    );
    const actors = await wireActors(wire.front.connection, OPTIONS.readers);
    try {
      const report = await runMixed(actors, OPTIONS);
      expect(report.firstError).toBeNull();
      expect(report.writes).toBeGreaterThan(0);
      expect(report.violations).toBe(0);
      expect(report.r.onReplica).toBeGreaterThan(0);
    } finally {
      await actors.close();
    }
  });
});
