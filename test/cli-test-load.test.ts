import { describe, expect, it } from 'vitest';
import { poolpilotCli } from './harness/cli.js';
import { useTestServer } from './harness/server.js';

describe('poolpilot test', () => {
  const server = useTestServer({ DB_POOL_MIN: '1', DB_POOL_SIZE: '4' }, { replica: true });

  it('runs the statements through executeQuery and reports throughput, percentiles and routing', async () => {
    const before = server.pp.poolpilot.poolState().totals.queries;
    const run = await poolpilotCli([
      'test',
      '--json',
      '--url',
      server.pp.url,
      '-n',
      '60',
      '-c',
      '6',
      '--sql',
      'SELECT 1',
      '--sql',
      'SELECT 2',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const r = run.json();
    expect(r).toMatchObject({
      iterations: 60,
      concurrency: 6,
      succeeded: 60,
      failed: 0,
      statements: ['SELECT 1', 'SELECT 2'],
    });
    expect(r.throughputPerSecond).toBeGreaterThan(0);
    expect(r.latencyMs.p50).toBeGreaterThan(0);
    expect(r.latencyMs.p50).toBeLessThanOrEqual(r.latencyMs.p95);
    expect(r.latencyMs.p95).toBeLessThanOrEqual(r.latencyMs.p99);
    expect(r.latencyMs.p99).toBeLessThanOrEqual(r.latencyMs.max);
    // The server's own timing is part of the round trip.
    expect(r.serverDurationMs.p50).toBeLessThanOrEqual(r.latencyMs.max);
    const routed = Object.values(r.routes as Record<string, number>).reduce((a, b) => a + b, 0);
    const targeted = Object.values(r.targets as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(routed).toBe(60);
    expect(targeted).toBe(60);
    // Every statement really went through the pools.
    expect(server.pp.poolpilot.poolState().totals.queries - before).toBeGreaterThanOrEqual(60);
  });

  it('counts failed statements by code and exits 1', async () => {
    const run = await poolpilotCli([
      'test',
      '--json',
      '--url',
      server.pp.url,
      '-n',
      '4',
      '-c',
      '2',
      '--sql',
      'SELECT * FROM no_such_table',
    ]);
    expect(run.code).toBe(1);
    const r = run.json();
    expect(r.failed).toBe(4);
    expect(Object.keys(r.errors)).toEqual(['BAD_SQL']);
  });

  it('prints a readable summary', async () => {
    const run = await poolpilotCli(['test', '--url', server.pp.url, '-n', '20', '-c', '4']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/20 statements, 4 in parallel/);
    expect(run.stdout).toMatch(/throughput [\d.]+ statements\/s/);
    expect(run.stdout).toMatch(/round trip +│ [\d.]+ ms/);
    expect(run.stdout).toMatch(/route +│ statements/);
  });
});
