/**
 * `npm run bench:subscriptions`: 10,000 graphql-ws subscribers of one document, first on one
 * poolpilot instance, then on two instances (5,000 each) sharing telemetry through Redis.
 *
 * Per row: delivery lag (the sample's `at` → receipt by the client) p50/p99/max, the servers' RSS
 * growth per subscriber, samples taken and GraphQL executions per interval (multiplexed: one per
 * sample per group, not per subscriber), connectionStates sampling queries per interval (from
 * pg_stat_statements on the one PostgreSQL both rows use) and, for the Redis row, Redis commands
 * per interval (INFO commandstats deltas).
 *
 * The clients are raw `ws` sockets speaking graphql-transport-ws in WORKERS child processes
 * (bench/subscription-clients.ts), reading only the `at` of each frame, so the load generator is
 * not what is measured. Everything runs on this machine: clients, servers, PostgreSQL and Redis
 * share its cores. The file-descriptor limit must allow SUBSCRIBERS sockets (the npm script raises
 * the soft limit to the hard one).
 *
 * The `ratio` row puts the cost side by side on one instance: RATIO_SUBSCRIBERS subscribers of one
 * document (one group) against as many distinct documents (an alias per subscriber: one execution
 * and one serialization each, what every subscriber cost before multiplexing).
 *
 * SUBSCRIBERS (10000), RATIO_SUBSCRIBERS (2000), INTERVAL_MS (1000), DURATION_S (10), WORKERS (4),
 * ROWS (ratio,single,redis).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { freePort } from '../src/embedded/free-port.js';
import { type EmbeddedCluster, run, startEmbeddedCluster } from '../support/postgres-cluster.js';
import { spawnService, stopService, waitHealthy } from '../support/service-process.js';

const SUBSCRIBERS = Number(process.env.SUBSCRIBERS ?? 10_000);
const INTERVAL_MS = Number(process.env.INTERVAL_MS ?? 1000);
const DURATION_S = Number(process.env.DURATION_S ?? 10);
const WORKERS = Number(process.env.WORKERS ?? 4);
const ROWS = (process.env.ROWS ?? 'ratio,single,redis').split(',');
const RATIO_SUBSCRIBERS = Number(process.env.RATIO_SUBSCRIBERS ?? 2_000);

const POOL_QUERY = `subscription { poolUtilization(intervalMs: ${INTERVAL_MS}) { at seq total { active utilization } targets { name utilization waiting } instances { name } } }`;
const STATES_QUERY = `subscription { connectionStates(intervalMs: ${INTERVAL_MS}) { at seq total active idle } }`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rssKb = (pid: number) =>
  Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : Number.NaN;
/** CPU time (user + system) a process has used, ms, from /proc (clock ticks of 10 ms). */
const cpuMs = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Server {
  child: ChildProcess;
  url: string;
  wsUrl: string;
  inspectPort: number;
}

async function startServer(databaseUrl: string, env: Record<string, string> = {}): Promise<Server> {
  const port = await freePort();
  const inspectPort = await freePort();
  const child = spawnService(
    {
      DATABASE_URL: databaseUrl,
      DB_REPLICA_URLS: '',
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ...env,
    },
    // The inspector lets the bench force a full GC before reading the heap.
    { nodeFlags: [`--inspect=127.0.0.1:${inspectPort}`], stdio: ['ignore', 'inherit', 'pipe'] },
  );
  child.stderr!.on('data', (chunk: Buffer) => {
    const text = String(chunk).replace(
      /^(Debugger listening on|For help, see|Debugger attached|Debugger ending).*\n/gm,
      '',
    );
    if (text) process.stderr.write(text);
  });
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(child, url, 60_000);
  return { child, url, wsUrl: `ws://127.0.0.1:${port}/graphql`, inspectPort };
}

/** Forces a full GC in a server through its inspector, then reads its heap (KB). */
async function heapAfterGc(inspectPort: number): Promise<number> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()) as {
    webSocketDebuggerUrl: string;
  }[];
  const ws = new WebSocket(targets[0]!.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  let id = 0;
  const call = (method: string, params?: object) =>
    new Promise<{ result?: { value?: string } }>((resolve) => {
      const mine = ++id;
      const onMessage = (raw: WebSocket.RawData) => {
        const message = JSON.parse(String(raw));
        if (message.id !== mine) return;
        ws.off('message', onMessage);
        resolve(message.result);
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify({ id: mine, method, params }));
    });
  try {
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
    const evaluated = await call('Runtime.evaluate', {
      expression: 'JSON.stringify(process.memoryUsage())',
      returnByValue: true,
    });
    return (JSON.parse(evaluated.result!.value!) as { heapUsed: number }).heapUsed / 1024;
  } finally {
    ws.close();
  }
}

async function steadyRss(pid: number): Promise<number> {
  const readings: number[] = [];
  for (let i = 0; i < 3; i++) {
    readings.push(rssKb(pid));
    await sleep(300);
  }
  return median(readings);
}

interface SamplerFigures {
  subscription: string;
  subscribers: number;
  groups: number;
  samplesTaken: number;
  executions: number;
  leader: string | null;
}

async function samplers(url: string): Promise<SamplerFigures[]> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: '{ telemetrySamplers { subscription subscribers groups samplesTaken executions leader } }',
    }),
  });
  return ((await res.json()) as { data: { telemetrySamplers: SamplerFigures[] } }).data.telemetrySamplers;
}

async function samplingCalls(databaseUrl: string): Promise<number> {
  const { rows } = await run(
    databaseUrl,
    "SELECT coalesce(sum(calls), 0)::int AS calls FROM pg_stat_statements WHERE query LIKE '%pg_blocking_pids%' AND query NOT LIKE '%pg_stat_statements%'",
  );
  return rows[0].calls as number;
}

async function redisCommands(redis: Redis): Promise<Map<string, number>> {
  const text = (await redis.info('commandstats')) as string;
  const calls = new Map<string, number>();
  for (const match of text.matchAll(/^cmdstat_(\w+(?:\|\w+)?):calls=(\d+)/gm))
    calls.set(match[1]!, Number(match[2]));
  return calls;
}

function redisDelta(before: Map<string, number>, after: Map<string, number>, intervals: number): string {
  const rows: string[] = [];
  let total = 0;
  for (const [name, calls] of after) {
    if (name === 'info') continue;
    const delta = calls - (before.get(name) ?? 0);
    if (delta <= 0) continue;
    total += delta;
    rows.push(`${name} ${(delta / intervals).toFixed(1)}`);
  }
  // Calls inside EVAL scripts (GET, PEXPIRE) and inside a MULTI … EXEC pipeline are not round trips.
  const inside = ['get', 'pexpire', 'multi', 'sadd', 'exec'].reduce(
    (n, c) => n + (after.get(c) ?? 0) - (before.get(c) ?? 0),
    0,
  );
  return `**${((total - inside) / intervals).toFixed(1)} round trips per interval** from all instances, ${(total / intervals).toFixed(1)} commands (${rows.join(', ')})`;
}

class Workers {
  readonly #children: ChildProcess[] = [];

  async start(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const child = fork(new URL('./subscription-clients.ts', import.meta.url).pathname, [], {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      this.#children.push(child);
      await this.#reply(child, 'ready');
    }
  }

  #reply<T>(child: ChildProcess, key: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const onMessage = (message: Record<string, unknown>) => {
        if (!(key in message)) return;
        child.off('message', onMessage);
        resolve(message as T);
      };
      child.on('message', onMessage);
      child.once('exit', (code) => reject(new Error(`client process exited (${code})`)));
    });
  }

  async all<T>(message: object | ((i: number) => object), key: string): Promise<T[]> {
    return Promise.all(
      this.#children.map((child, i) => {
        const reply = this.#reply<T>(child, key);
        child.send(typeof message === 'function' ? message(i) : message);
        return reply;
      }),
    );
  }

  close(): void {
    for (const child of this.#children) child.send({ cmd: 'close' });
  }
}

interface RowResult {
  name: string;
  lines: string[];
  p99: number;
  perSubKb: number;
}

async function measureRow(
  name: string,
  servers: Server[],
  databaseUrl: string,
  redis: Redis | null,
): Promise<RowResult> {
  const lines: string[] = [];
  const log = (line: string) => {
    console.log(line);
    lines.push(line);
  };
  const pids = servers.map((s) => s.child.pid!);
  await sleep(3_000);
  // RSS read after a full GC both times, so start-up garbage is not counted against (or for) subscribers.
  const baseHeap = await Promise.all(servers.map((s) => heapAfterGc(s.inspectPort)));
  const baseRss = await Promise.all(pids.map(steadyRss));
  const loadBefore = loadavg()[0]!;
  const workers = new Workers();
  await workers.start(WORKERS);
  try {
    const perWorker = Math.ceil(SUBSCRIBERS / WORKERS);
    const connectStart = performance.now();
    await workers.all(
      (i) => ({
        cmd: 'connect',
        urls: servers.map((s) => s.wsUrl),
        count: Math.min(perWorker, SUBSCRIBERS - i * perWorker),
      }),
      'connected',
    );
    const connectMs = performance.now() - connectStart;
    await workers.all({ cmd: 'subscribe', id: 'pool', query: POOL_QUERY }, 'subscribed');
    await sleep(3_000);

    const before = await Promise.all(servers.map((s) => samplers(s.url)));
    const redisBefore = redis ? await redisCommands(redis) : null;
    await workers.all({ cmd: 'measure' }, 'measuring');
    const started = Date.now();
    const cpuBefore = pids.map(cpuMs);
    await sleep(DURATION_S * 1_000);
    const cpuUsed = pids.map((pid, i) => cpuMs(pid) - cpuBefore[i]!);
    const reports = await workers.all<{ lags: number[]; frames: number; cpuMs: number }>(
      { cmd: 'report' },
      'lags',
    );
    const intervals = (Date.now() - started) / INTERVAL_MS;
    const redisAfter = redis ? await redisCommands(redis) : null;
    const after = await Promise.all(servers.map((s) => samplers(s.url)));
    const heap = await Promise.all(servers.map((s) => heapAfterGc(s.inspectPort)));
    const rss = await Promise.all(pids.map(steadyRss));

    const lags = reports.flatMap((r) => r.lags).sort((a, b) => a - b);
    const pool = (list: SamplerFigures[]) => list.find((s) => s.subscription === 'POOL_UTILIZATION')!;
    const rssGrowth = rss.reduce((n, kb, i) => n + kb - baseRss[i]!, 0);
    const heapGrowth = heap.reduce((n, kb, i) => n + kb - baseHeap[i]!, 0);
    const perSubKb = rssGrowth / SUBSCRIBERS;
    log(`\n## ${name}`);
    log(
      `- ${SUBSCRIBERS} subscribers on ${servers.length} instance(s), one document, ${INTERVAL_MS} ms interval, ${DURATION_S} s measured; connected in ${(connectMs / 1000).toFixed(1)} s; machine load average ${loadBefore.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}`,
    );
    servers.forEach((_s, i) => {
      const [b, a] = [pool(before[i]!), pool(after[i]!)];
      log(
        `- instance ${i + 1}: ${a.subscribers} subscribers in ${a.groups} group(s); samples received ${((a.samplesTaken - b.samplesTaken) / intervals).toFixed(2)}/interval, ` +
          `GraphQL executions ${((a.executions - b.executions) / intervals).toFixed(2)}/interval; leader ${a.leader ?? '(samples alone)'}`,
      );
    });
    log(
      `- deliveries: ${lags.length} (${(lags.length / SUBSCRIBERS / intervals).toFixed(2)} per subscriber per interval)`,
    );
    log(
      `- **delivery lag p50 / p99 / max: ${percentile(lags, 50)} / ${percentile(lags, 99)} / ${lags.at(-1)} ms** (goal p99 ≤ 100 ms)`,
    );
    log(
      `- **server RSS growth: ${(rssGrowth / 1024).toFixed(1)} MB = ${perSubKb.toFixed(1)} KB per subscriber** (goal ≤ 20 KB); heap retained after a full GC ${(heapGrowth / SUBSCRIBERS).toFixed(1)} KB per subscriber`,
    );
    const serverCpu = cpuUsed.reduce((n, ms) => n + ms, 0);
    const clientCpu = reports.reduce((n, r) => n + r.cpuMs, 0);
    log(
      `- CPU per interval: servers ${(serverCpu / intervals).toFixed(0)} ms (${((serverCpu * 1000) / Math.max(1, lags.length)).toFixed(1)} µs per delivery), ` +
        `clients ${(clientCpu / intervals).toFixed(0)} ms: the lag is the fan-out plus the clients' reading on the same cores`,
    );
    if (redisBefore && redisAfter) log(`- Redis commands: ${redisDelta(redisBefore, redisAfter, intervals)}`);

    // connectionStates on the same sockets: the one sampling query per interval, counted by PostgreSQL.
    await workers.all({ cmd: 'complete', id: 'pool' }, 'completed');
    await workers.all({ cmd: 'subscribe', id: 'states', query: STATES_QUERY }, 'subscribed');
    await sleep(2_000);
    const callsBefore = await samplingCalls(databaseUrl);
    await workers.all({ cmd: 'measure' }, 'measuring');
    const t0 = Date.now();
    await sleep(Math.min(DURATION_S, 6) * 1_000);
    const stateReports = await workers.all<{ lags: number[] }>({ cmd: 'report' }, 'lags');
    const callsAfter = await samplingCalls(databaseUrl);
    const stateIntervals = (Date.now() - t0) / INTERVAL_MS;
    const stateLags = stateReports.flatMap((r) => r.lags).sort((a, b) => a - b);
    log(
      `- connectionStates (same sockets): **${((callsAfter - callsBefore) / stateIntervals).toFixed(2)} sampling queries per interval** (pg_stat_statements, whole cluster); lag p50 / p99 ${percentile(stateLags, 50)} / ${percentile(stateLags, 99)} ms`,
    );
    return { name, lines, p99: percentile(lags, 99), perSubKb };
  } finally {
    workers.close();
    await sleep(500);
  }
}

/** Server CPU per interval for one shared document against as many distinct ones, same sockets. */
async function measureRatio(server: Server): Promise<RowResult> {
  const lines: string[] = [];
  const log = (line: string) => {
    console.log(line);
    lines.push(line);
  };
  const pid = server.child.pid!;
  const workers = new Workers();
  await workers.start(2);
  try {
    const perWorker = RATIO_SUBSCRIBERS / 2;
    await workers.all({ cmd: 'connect', urls: [server.wsUrl], count: perWorker }, 'connected');
    const phase = async (id: string, unique: boolean) => {
      await workers.all(
        (i) => ({ cmd: 'subscribe', id, query: POOL_QUERY, unique: unique ? `w${i}` : undefined }),
        'subscribed',
      );
      await sleep(2_000);
      const before = (await samplers(server.url)).find((s) => s.subscription === 'POOL_UTILIZATION')!;
      const cpu0 = cpuMs(pid);
      const t0 = Date.now();
      await sleep(Math.min(DURATION_S, 6) * 1_000);
      const cpu = cpuMs(pid) - cpu0;
      const intervals = (Date.now() - t0) / INTERVAL_MS;
      const after = (await samplers(server.url)).find((s) => s.subscription === 'POOL_UTILIZATION')!;
      await workers.all({ cmd: 'complete', id }, 'completed');
      await sleep(1_500);
      return {
        groups: after.groups,
        executions: (after.executions - before.executions) / intervals,
        cpuPerInterval: cpu / intervals,
      };
    };
    const same = await phase('same', false);
    const distinct = await phase('distinct', true);
    log(`\n## side by side: ${RATIO_SUBSCRIBERS} subscribers on one instance`);
    log('| subscriptions | groups | GraphQL executions per interval | server CPU per interval |');
    log('| --- | ---: | ---: | ---: |');
    log(
      `| one document (multiplexed) | ${same.groups} | ${same.executions.toFixed(1)} | ${same.cpuPerInterval.toFixed(0)} ms |`,
    );
    log(
      `| distinct documents (an alias each) | ${distinct.groups} | ${distinct.executions.toFixed(1)} | ${distinct.cpuPerInterval.toFixed(0)} ms |`,
    );
    log(
      `- **server CPU, distinct / multiplexed: ${(distinct.cpuPerInterval / Math.max(1, same.cpuPerInterval)).toFixed(1)}×**`,
    );
    return { name: 'ratio', lines, p99: Number.NaN, perSubKb: Number.NaN };
  } finally {
    workers.close();
    await sleep(500);
  }
}

async function main(): Promise<void> {
  let cluster: EmbeddedCluster | null = null;
  const servers: Server[] = [];
  let redisServer: ChildProcess | null = null;
  const rows: RowResult[] = [];
  try {
    cluster = await startEmbeddedCluster({ replica: false });
    await run(cluster.primaryUrl, 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const databaseUrl = cluster.primaryUrl;
    console.log(
      `bench:subscriptions — ${SUBSCRIBERS} subscribers, ${WORKERS} client processes, ${cpus().length} CPUs, Node ${process.version}`,
    );

    if (ROWS.includes('ratio')) {
      const server = await startServer(databaseUrl, { WS_MAX_SUBSCRIPTIONS: '10' });
      try {
        rows.push(await measureRatio(server));
      } finally {
        await stopService(server.child);
      }
    }

    if (ROWS.includes('single')) {
      const server = await startServer(databaseUrl);
      servers.push(server);
      rows.push(await measureRow('one instance', [server], databaseUrl, null));
      await stopService(server.child);
      servers.length = 0;
    }

    if (ROWS.includes('redis')) {
      const port = await freePort();
      redisServer = (await import('node:child_process')).spawn(
        '/usr/bin/redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        { stdio: 'ignore' },
      );
      const redisUrl = `redis://127.0.0.1:${port}`;
      const redis = new Redis(redisUrl);
      redis.on('error', () => undefined);
      await redis.ping();
      for (const name of ['bench-a', 'bench-b']) {
        servers.push(await startServer(databaseUrl, { REDIS_URL: redisUrl, INSTANCE_NAME: name }));
      }
      try {
        rows.push(await measureRow('two instances over Redis', servers, databaseUrl, redis));
      } finally {
        redis.disconnect();
      }
    }
  } finally {
    await Promise.all(servers.map((s) => stopService(s.child)));
    redisServer?.kill('SIGTERM');
    await cluster?.stop();
  }
  const header = [
    `# bench:subscriptions (${new Date().toISOString()})`,
    '',
    `${cpus().length} CPUs shared by the clients (${WORKERS} processes of raw ws sockets), the poolpilot instance(s), PostgreSQL and Redis; ` +
      `Node ${process.version}; ${SUBSCRIBERS} subscribers, ${INTERVAL_MS} ms interval. Other work on the machine adds noise.`,
  ];
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(
    new URL('./results/subscriptions.md', import.meta.url),
    `${[...header, ...rows.flatMap((r) => r.lines)].join('\n')}\n`,
  );
  writeFileSync(
    new URL('./results/subscriptions.json', import.meta.url),
    `${JSON.stringify({ at: new Date().toISOString(), subscribers: SUBSCRIBERS, intervalMs: INTERVAL_MS, rows }, null, 2)}\n`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
