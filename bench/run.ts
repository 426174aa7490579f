import type { ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { cpus } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { coreSettings, databaseTargets, loadConfig } from '../src/config/index.js';
import { Poolpilot, silentLogger } from '../src/core/index.js';
import { Histogram } from '../src/core/pool/index.js';
import { freePort } from '../src/embedded/index.js';
import { type EmbeddedCluster, run, startEmbeddedCluster } from '../support/postgres-cluster.js';
import { spawnService, stopService, waitHealthy } from '../support/service-process.js';
import { closedLoop, type LoadResult } from './load.js';
import { cpuAvailable, serverCpuSeconds } from './pg-cpu.js';

/**
 * `npm run bench` (full, ~1 min) and `npm run bench:smoke` (a few seconds, for CI).
 *
 * One PostgreSQL, one query, 32 clients, three ways to reach it:
 *   poolpilot  executeQuery over HTTP to a poolpilot process (pool of 20)
 *   direct     a pg.Pool of 20 in the load generator
 *   per-request a new connection for every request (connect, query, close)
 * the same core in process without HTTP/GraphQL (to show where the cost is); on the same
 * poolpilot process, `{ __typename }` (HTTP + GraphQL doing nothing: the ceiling executeQuery is
 * compared with) and `{ info { name version } }`; plus the analyzer + router decision time for a
 * cached shape, a known shape with new constants, and a shape seen for the first time (parse +
 * EXPLAIN). Printed and written to bench/results/; never asserted.
 */
const smoke = process.argv.includes('--smoke');
const CLIENTS = 32;
const SECONDS = smoke ? 1.5 : 10;
const WARMUP = smoke ? 0.5 : 2;
const QUERY = 'SELECT id, v FROM bench_items WHERE id = $1';
const ROWS = 10_000;
const EXECUTE =
  'mutation($sql: String!, $params: [JSON]) { executeQuery(sql: $sql, params: $params) { rowCount } }';
const TYPENAME = '{ __typename }';
const INFO = '{ info { name version } }';

interface ModeResult extends LoadResult {
  pgCpuMsPerRequest: number | null;
  /** CPU of the poolpilot process per request, for the modes that reach it over HTTP. */
  poolpilotCpuMsPerRequest: number | null;
}

async function main(): Promise<void> {
  let cluster: EmbeddedCluster | null = null;
  let server: ChildProcess | null = null;
  const cleanup = async () => {
    if (server) await stopService(server);
    await cluster?.stop();
  };
  try {
    let url = process.env.DATABASE_URL;
    let pid: number | null = process.env.POSTGRES_PID ? Number(process.env.POSTGRES_PID) : null;
    if (!url) {
      cluster = await startEmbeddedCluster();
      url = cluster.primaryUrl;
      pid = cluster.primary.pid;
    }
    if (!cpuAvailable()) pid = null;
    await run(
      url,
      `DROP TABLE IF EXISTS bench_items;
       CREATE TABLE bench_items (id int PRIMARY KEY, v text NOT NULL);
       INSERT INTO bench_items SELECT g, md5(g::text) FROM generate_series(1, ${ROWS}) g;
       ANALYZE bench_items;`,
    );
    const param = (i: number) => 1 + ((i * 7919) % ROWS);
    console.log(
      `${smoke ? 'smoke' : 'full'} benchmark: ${CLIENTS} clients, ${SECONDS} s per mode, query: ${QUERY}`,
    );

    const port = await freePort();
    server = await startServer(url, port);
    const servicePid = cpuAvailable() ? server.pid! : null;
    const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
    const overHttp = { postgres: pid, poolpilot: servicePid };
    const viaPoolpilot = await measure('poolpilot executeQuery (HTTP)', overHttp, (i) =>
      postJson(agent, port, { query: EXECUTE, variables: { sql: QUERY, params: [param(i)] } }),
    );
    // The same server doing no statement: what HTTP + GraphQL alone cost.
    const typename = await measure(`poolpilot ${TYPENAME} (HTTP)`, overHttp, () =>
      postJson(agent, port, { query: TYPENAME }),
    );
    const info = await measure(`poolpilot ${INFO} (HTTP)`, overHttp, () =>
      postJson(agent, port, { query: INFO }),
    );
    agent.destroy();

    const pool = new pg.Pool({ connectionString: url, max: 20 });
    const direct = await measure('direct pg.Pool', { postgres: pid }, (i) => pool.query(QUERY, [param(i)]));
    await pool.end();

    const perRequest = await measure('new connection per request', { postgres: pid }, async (i) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(QUERY, [param(i)]);
      } finally {
        await client.end();
      }
    });

    // The same routing core without GraphQL and HTTP: where the per-request cost is.
    const config = loadConfig({
      DATABASE_URL: url,
      LOG_LEVEL: 'silent',
      DB_POOL_MIN: '20',
      DB_POOL_SIZE: '20',
    });
    const targets = databaseTargets(config);
    const core = new Poolpilot({
      ...coreSettings(config),
      primary: targets.primary!,
      replicas: targets.replicas,
      embedded: false,
      log: silentLogger,
    });
    await core.start();
    let inProcess: ModeResult;
    let decision: Awaited<ReturnType<typeof measureDecision>>;
    try {
      inProcess = await measure('poolpilot core in process (Poolpilot.execute)', { postgres: pid }, (i) =>
        core.execute(QUERY, [param(i)]),
      );
      decision = await measureDecision(core);
    } finally {
      await core.close(0);
    }
    const results = {
      kind: smoke ? 'smoke' : 'full',
      at: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? null, node: process.version },
      database: process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded PostgreSQL 16 (fsync off)',
      clients: CLIENTS,
      secondsPerMode: SECONDS,
      query: QUERY,
      modes: { poolpilot: viaPoolpilot, direct, perRequest, inProcess, typename, info },
      ratios: {
        poolpilotVsDirectThroughput: viaPoolpilot.throughput / direct.throughput,
        executeQueryVsTypenameThroughput: viaPoolpilot.throughput / typename.throughput,
        // The same comparison by poolpilot's CPU per request, which other load on the machine disturbs less.
        executeQueryVsTypenameCpu:
          viaPoolpilot.poolpilotCpuMsPerRequest && typename.poolpilotCpuMsPerRequest
            ? typename.poolpilotCpuMsPerRequest / viaPoolpilot.poolpilotCpuMsPerRequest
            : null,
        poolpilotVsPerRequestThroughput: viaPoolpilot.throughput / perRequest.throughput,
        coreVsDirectThroughput: inProcess.throughput / direct.throughput,
        pgCpuReductionVsPerRequest:
          viaPoolpilot.pgCpuMsPerRequest !== null && perRequest.pgCpuMsPerRequest
            ? 1 - viaPoolpilot.pgCpuMsPerRequest / perRequest.pgCpuMsPerRequest
            : null,
      },
      decision,
    };
    const markdown = toMarkdown(results);
    console.log(`\n${markdown}`);
    const dir = path.resolve(import.meta.dirname, 'results');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, `${results.kind}.json`), `${JSON.stringify(results, null, 2)}\n`);
    await writeFile(path.join(dir, `${results.kind}.md`), `${markdown}\n`);
    console.log(`written to bench/results/${results.kind}.json and .md`);
  } finally {
    await cleanup();
  }
}

/** `pids`: the processes whose CPU is read over the measured window (PostgreSQL, poolpilot). */
async function measure(
  name: string,
  pids: { postgres: number | null; poolpilot?: number | null },
  request: (i: number) => Promise<unknown>,
): Promise<ModeResult> {
  const pid = pids.postgres;
  const servicePid = pids.poolpilot ?? null;
  let cpu = { pg: 0, service: 0 };
  const read = () => ({
    pg: pid === null ? 0 : serverCpuSeconds(pid),
    service: servicePid === null ? 0 : serverCpuSeconds(servicePid),
  });
  let used = { pg: 0, service: 0 };
  const result = await closedLoop(request, {
    clients: CLIENTS,
    seconds: SECONDS,
    warmupSeconds: WARMUP,
    onMeasure: (phase) => {
      if (phase === 'start') cpu = read();
      else {
        const end = read();
        used = { pg: end.pg - cpu.pg, service: end.service - cpu.service };
      }
    },
  });
  const perRequest = (seconds: number, of: number | null) =>
    of === null || result.requests === 0 ? null : (seconds * 1000) / result.requests;
  const pgCpuMsPerRequest = perRequest(used.pg, pid);
  const poolpilotCpuMsPerRequest = perRequest(used.service, servicePid);
  console.log(
    `  ${name}: ${Math.round(result.throughput)} req/s, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms` +
      (pgCpuMsPerRequest === null ? '' : `, PostgreSQL CPU ${pgCpuMsPerRequest.toFixed(3)} ms/request`) +
      (poolpilotCpuMsPerRequest === null
        ? ''
        : `, poolpilot CPU ${poolpilotCpuMsPerRequest.toFixed(3)} ms/request`),
  );
  return { ...result, pgCpuMsPerRequest, poolpilotCpuMsPerRequest };
}

/** Analyzer + router decision, in process, in microseconds. */
async function measureDecision(pp: Poolpilot) {
  const time = async (n: number, sqlOf: (i: number) => string, before?: () => void) => {
    const h = new Histogram();
    for (let i = 0; i < n; i++) {
      before?.();
      const sql = sqlOf(i);
      const t0 = process.hrtime.bigint();
      pp.router.decide(await pp.analyzer.analyze(sql));
      h.record(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const s = h.summary();
    return { samples: n, p50Us: s.p50Ms * 1000, p99Us: s.p99Ms * 1000, meanUs: s.meanMs * 1000 };
  };
  await pp.analyzer.analyze(QUERY);
  const cached = await time(smoke ? 5_000 : 200_000, () => QUERY);
  const knownShape = await time(smoke ? 200 : 5_000, (i) => `SELECT id, v FROM bench_items WHERE id = ${i}`);
  const firstSight = await time(
    smoke ? 20 : 500,
    () => QUERY,
    () => pp.analyzer.clear(),
  );
  for (const [name, r] of Object.entries({ cached, knownShape, firstSight })) {
    console.log(`  decision, ${name}: p50 ${r.p50Us.toFixed(1)} µs, p99 ${r.p99Us.toFixed(1)} µs`);
  }
  return { cached, knownShape, firstSight };
}

async function startServer(url: string, port: number): Promise<ChildProcess> {
  const child = spawnService(
    {
      DATABASE_URL: url,
      DB_REPLICA_URLS: '',
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      API_TOKENS: '',
      DB_POOL_SIZE: '20',
      DB_POOL_MIN: '20',
    },
    { nodeFlags: process.env.PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PROFILE_DIR}`] : [] },
  );
  try {
    await waitHealthy(child, `http://127.0.0.1:${port}`);
    return child;
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}

function postJson(agent: http.Agent, port: number, body: unknown): Promise<void> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: '127.0.0.1',
        port,
        path: '/graphql',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => {
          if (res.statusCode !== 200 || text.includes('"errors"'))
            reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
          else resolve();
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

function toMarkdown(r: {
  kind: string;
  at: string;
  machine: { cpus: number; node: string };
  clients: number;
  secondsPerMode: number;
  modes: Record<string, ModeResult>;
  ratios: Record<string, number | null>;
  decision: Record<string, { p50Us: number; p99Us: number; samples: number }>;
}): string {
  const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(0)}%`);
  const ms = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));
  const row = (name: string, m: ModeResult) =>
    `| ${name} | ${Math.round(m.throughput)} | ${m.p50Ms.toFixed(2)} | ${m.p99Ms.toFixed(2)} | ${ms(m.pgCpuMsPerRequest)} | ${ms(m.poolpilotCpuMsPerRequest)} | ${m.errors} |`;
  return [
    `### poolpilot benchmark (${r.kind}, ${r.at}; ${r.machine.cpus} CPUs, Node ${r.machine.node}; ${r.clients} clients, ${r.secondsPerMode} s per mode)`,
    '',
    '| mode | req/s | p50 ms | p99 ms | PostgreSQL CPU ms/request | poolpilot CPU ms/request | errors |',
    '|---|---:|---:|---:|---:|---:|---:|',
    row('poolpilot executeQuery (HTTP)', r.modes.poolpilot!),
    row('direct pg.Pool', r.modes.direct!),
    row('new connection per request', r.modes.perRequest!),
    row('poolpilot core in process (no HTTP/GraphQL)', r.modes.inProcess!),
    row(`poolpilot \`${TYPENAME}\` (HTTP, no statement)`, r.modes.typename!),
    row(`poolpilot \`${INFO}\` (HTTP, no statement)`, r.modes.info!),
    '',
    `- poolpilot / direct throughput: **${r.ratios.poolpilotVsDirectThroughput!.toFixed(2)}** (goal ≥ 0.6)`,
    `- poolpilot / new-connection throughput: **${r.ratios.poolpilotVsPerRequestThroughput!.toFixed(1)}×** (goal ≥ 10×)`,
    `- poolpilot core in process / direct throughput: **${r.ratios.coreVsDirectThroughput!.toFixed(2)}** (analyzer + router + pool, without HTTP and GraphQL; goal ≥ 0.8)`,
    `- executeQuery / \`${TYPENAME}\` throughput on the same server: **${r.ratios.executeQueryVsTypenameThroughput!.toFixed(2)}** (goal ≥ 0.8); by poolpilot CPU per request: **${r.ratios.executeQueryVsTypenameCpu?.toFixed(2) ?? 'n/a'}**`,
    `- PostgreSQL CPU per request vs new connection: **${pct(r.ratios.pgCpuReductionVsPerRequest ?? null)} lower** (goal ≥ 70%)`,
    '',
    '| analyzer + router decision | samples | p50 µs | p99 µs |',
    '|---|---:|---:|---:|',
    ...Object.entries(r.decision).map(
      ([k, d]) => `| ${k} | ${d.samples} | ${d.p50Us.toFixed(1)} | ${d.p99Us.toFixed(1)} |`,
    ),
    '',
    'cached: same text again (goal p99 ≤ 50 µs); knownShape: new constants, known fingerprint (parse, no EXPLAIN); firstSight: parse + EXPLAIN on the primary.',
  ].join('\n');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
