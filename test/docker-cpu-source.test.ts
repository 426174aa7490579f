import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SERVICE_NAME, silentLogger } from '../src/core/index.js';
import { type CpuSample, Telemetry } from '../src/core/telemetry/index.js';
import { useTestCore } from './harness/server.js';

const databases = inject('databases');

/** Two consecutive answers of `GET /containers/clisonix-postgres/stats` from a Docker 24 engine (cgroup v2). */
const RECORDED = JSON.parse(
  readFileSync(new URL('./fixtures/docker-stats.json', import.meta.url), 'utf8'),
) as object[];

describe('CPU from the Docker Engine API', () => {
  let dir: string;
  let engine: Server;
  let socketPath: string;
  const requests: string[] = [];

  const server = useTestCore({ DB_POOL_MIN: '1' });
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pp-docker-'));
    socketPath = path.join(dir, 'docker.sock');
    // An engine that replays the recording: the first document, then the second for every later call.
    engine = createServer((req, res) => {
      requests.push(req.url ?? '');
      if (!req.url?.startsWith('/containers/clisonix-postgres/stats')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: 'No such container: nope' }));
        return;
      }
      const served = requests.filter((u) => u.startsWith('/containers/clisonix-postgres/')).length;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(RECORDED[Math.min(served, RECORDED.length) - 1]));
    });
    await new Promise<void>((resolve) => engine.listen(socketPath, resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => engine?.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  async function firstSample(options: {
    dbContainer: string | null;
    dockerSocket: string;
  }): Promise<CpuSample> {
    const telemetry = new Telemetry({
      cluster: server.poolpilot.cluster,
      applicationName: SERVICE_NAME,
      log: silentLogger,
      ...options,
    });
    const stream = telemetry.containerCpu(1_000);
    try {
      return (await stream.next()).value!;
    } finally {
      await stream.return();
      telemetry.close();
    }
  }

  it("applies Docker's formula to the recorded stats", async () => {
    const sample = await firstSample({ dbContainer: 'clisonix-postgres', dockerSocket: socketPath });
    expect(sample).toMatchObject({ source: 'docker', detail: 'clisonix-postgres', skipped: [], cores: 4 });
    // Δusage 1.25e9 ns / Δsystem 4e9 ns × 4 CPUs × 100
    expect(sample.percentOfOneCore).toBeCloseTo(125, 6);
    expect(sample.percentOfAllCores).toBeCloseTo(31.25, 6);
    // usage − inactive_file, as `docker stats` shows it
    expect(sample.memoryBytes).toBe(220_520_448 - 96_460_800);
    expect(requests[0]).toBe('/containers/clisonix-postgres/stats?stream=false&one-shot=true');
  });

  it('falls through to the next source for an unknown container or a missing socket', async () => {
    const unknown = await firstSample({ dbContainer: 'nope', dockerSocket: socketPath });
    expect(unknown.skipped[0]).toBe('docker: no container named "nope"');
    const missing = path.join(dir, 'absent.sock');
    const absent = await firstSample({ dbContainer: 'clisonix-postgres', dockerSocket: missing });
    expect(absent.skipped[0]).toBe(`docker: no Docker socket at ${missing}`);
    for (const sample of [unknown, absent]) {
      expect(sample.source).not.toBe('docker');
      if (databases.source !== 'external') expect(sample.source).toBe('proc');
    }
  });
});
