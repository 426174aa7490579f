import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SERVICE_NAME, silentLogger } from '../src/core/index.js';
import { cgroupProbe, ServerProcessLocator, Telemetry } from '../src/core/telemetry/index.js';
import { SERVER_PROCESS_SQL } from '../src/core/telemetry/sql.js';
import { useTestCore } from './harness/server.js';

const databases = inject('databases');

describe.skipIf(databases.source === 'external')('CPU from the server cgroup v2', () => {
  let root: string;

  const server = useTestCore({ DB_POOL_MIN: '1' });
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'pp-cgroup-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('reads the cgroup the postmaster is in, with its CPU limit and memory', async () => {
    const primary = server.poolpilot.cluster.primary.pool;
    const locator = new ServerProcessLocator(async () => {
      const { rows } = await primary.query(SERVER_PROCESS_SQL);
      return { pid: rows[0]!.pid as number, startedMs: rows[0]!.started_ms as number };
    });
    const postmaster = await locator.locate();
    expect(postmaster, String(postmaster)).toBeTypeOf('number');
    const membership = readFileSync(`/proc/${postmaster}/cgroup`, 'utf8');
    const relative = /^0::(.*)$/m.exec(membership)![1]!.trim();

    // A cgroup v2 tree laid out as the kernel does, under a temporary root: 1.5 CPUs, 300 MB used.
    const dir = path.join(root, relative);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(root, 'cgroup.controllers'), 'cpu memory pids\n');
    await writeFile(path.join(dir, 'cpu.max'), '150000 100000\n');
    await writeFile(path.join(dir, 'memory.current'), `${300 * 1048576 + 20 * 1048576}\n`);
    await writeFile(
      path.join(dir, 'memory.stat'),
      `anon 251658240\nfile 41943040\ninactive_file ${20 * 1048576}\n`,
    );
    let usageUsec = 5_000_000;
    const writeUsage = () =>
      writeFile(
        path.join(dir, 'cpu.stat'),
        `usage_usec ${usageUsec}\nuser_usec ${usageUsec - 1000}\nsystem_usec 1000\n`,
      );
    await writeUsage();

    const telemetry = new Telemetry({
      cluster: server.poolpilot.cluster,
      applicationName: SERVICE_NAME,
      dbContainer: null,
      log: silentLogger,
      cpuProbes: [cgroupProbe(locator, '/proc', root)],
    });
    const stream = telemetry.containerCpu(250);
    try {
      const first = (await stream.next()).value!;
      expect(first).toMatchObject({ source: 'cgroup', detail: dir, cores: 1.5, memoryBytes: 300 * 1048576 });
      // Half a second of CPU time from here on, whenever the next reading comes.
      usageUsec += 500_000;
      await writeUsage();
      let next = (await stream.next()).value!;
      // The write may land just after a reading; the one after it sees it.
      for (let i = 0; i < 5 && next.percentOfOneCore === 0; i++) next = (await stream.next()).value!;
      expect(next.percentOfOneCore).toBeGreaterThan(0);
      expect(next.percentOfAllCores).toBeCloseTo(next.percentOfOneCore! / 1.5, 6);
    } finally {
      await stream.return();
      telemetry.close();
    }
  });
});
