/**
 * `npm run bench:subscriptions`: 1,000 concurrent graphql-ws subscribers (one WebSocket each) on
 * one poolpilot instance. Prints delivery lag (sample time → client receipt) p50/p99, the
 * server's RSS per subscriber, and how many samples (for connectionStates: queries) each
 * interval costs. The server runs in its own process, with its own embedded PostgreSQL, so its
 * RSS is not mixed with the clients'.
 *
 * SUBSCRIBERS (1000), INTERVAL_MS (1000), DURATION_S (20) tune the run.
 */
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { freePort } from '../src/embedded/free-port.js';
import { spawnService, waitHealthy } from '../support/service-process.js';

const SUBSCRIBERS = Number(process.env.SUBSCRIBERS ?? 1000);
const INTERVAL_MS = Number(process.env.INTERVAL_MS ?? 1000);
const DURATION_S = Number(process.env.DURATION_S ?? 20);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rssKb = (pid: number) =>
  Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function startServer(): Promise<{
  child: ChildProcess;
  url: string;
  dataDir: string;
  inspectPort: number;
}> {
  // A directory the embedded server's OS user can traverse; the data directory itself is created inside.
  const dataDir = mkdtempSync(path.join(tmpdir(), 'pp-bench-'));
  chmodSync(dataDir, 0o755);
  const port = await freePort();
  const profile = process.env.PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PROFILE_DIR}`] : [];
  const inspectPort = await freePort();
  // The inspector lets the bench force a full GC in the server before reading its heap, so
  // memory retained per subscriber is told apart from garbage not yet collected.
  const inspect = `--inspect=127.0.0.1:${inspectPort}`;
  const child = spawnService(
    {
      DATABASE_URL: '',
      DB_HOST: '',
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      EMBEDDED_PG_DATA: path.join(dataDir, 'data'),
      EMBEDDED_PG_PORT: String(await freePort()),
    },
    { nodeFlags: [...profile, inspect], stdio: ['ignore', 'inherit', 'pipe'] },
  );
  // The inspector announces itself on stderr; everything else passes through.
  child.stderr!.on('data', (chunk: Buffer) => {
    const text = String(chunk).replace(
      /^(Debugger listening on|For help, see|Debugger attached|Debugger ending).*\n/gm,
      '',
    );
    if (text) process.stderr.write(text);
  });
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(child, url, 120_000);
  return { child, url, dataDir, inspectPort };
}

/** Forces a full GC in the server through its inspector, then reads its heap and RSS (KB). */
async function afterGc(inspectPort: number): Promise<{ heapKb: number; rssKb: number }> {
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
    const usage = JSON.parse(evaluated.result!.value!) as { heapUsed: number; rss: number };
    return { heapKb: usage.heapUsed / 1024, rssKb: usage.rss / 1024 };
  } finally {
    ws.close();
  }
}

/** The median of three RSS readings 300 ms apart. */
async function steadyRss(pid: number): Promise<number> {
  const readings: number[] = [];
  for (let i = 0; i < 3; i++) {
    readings.push(rssKb(pid));
    await sleep(300);
  }
  return median(readings);
}

async function samplers(
  url: string,
): Promise<{ stream: string; intervalMs: number; subscribers: number; samplesTaken: number }[]> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ telemetrySamplers { stream intervalMs subscribers samplesTaken } }' }),
  });
  return ((await res.json()) as { data: { telemetrySamplers: never[] } }).data.telemetrySamplers;
}

async function statementCalls(url: string): Promise<number | null> {
  // Through poolpilot itself: the sampling statement's calls in pg_stat_statements.
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: 'mutation($sql: String!) { executeQuery(sql: $sql) { rows } }',
      variables: {
        sql: "SELECT coalesce(sum(calls), 0)::int AS calls FROM pg_stat_statements WHERE query LIKE '%pg_blocking_pids%' AND query NOT LIKE '%pg_stat_statements%'",
      },
    }),
  });
  const body = (await res.json()) as { data?: { executeQuery: { rows: { calls: number }[] } } };
  return body.data?.executeQuery.rows[0]?.calls ?? null;
}

interface Phase {
  lags: number[];
  seqs: Set<number>;
}

function subscribeAll(clients: Client[], field: string, selection: string, phase: Phase): (() => void)[] {
  return clients.map((client) =>
    client.subscribe<Record<string, { at: string; seq: number }>>(
      { query: `subscription { ${field}(intervalMs: ${INTERVAL_MS}) { at seq ${selection} } }` },
      {
        next: (result) => {
          const sample = result.data?.[field];
          if (!sample) return;
          phase.lags.push(Date.now() - Date.parse(sample.at));
          phase.seqs.add(sample.seq);
        },
        error: (error) => console.error('subscription error', error),
        complete: () => undefined,
      },
    ),
  );
}

async function main(): Promise<void> {
  const started = performance.now();
  const { child, url, dataDir, inspectPort } = await startServer();
  console.log(
    `server up in ${Math.round(performance.now() - started)} ms (pid ${child.pid}); ${SUBSCRIBERS} subscribers, ${INTERVAL_MS} ms interval, ${DURATION_S} s`,
  );
  const clients: Client[] = [];
  try {
    await sleep(3_000);
    const baseKb = await steadyRss(child.pid!);
    const baseGc = await afterGc(inspectPort);

    const wsUrl = `${url.replace('http', 'ws')}/graphql`;
    // Connections first (in batches, so the accept queue is not the measurement), to tell what a
    // graphql-ws connection costs apart from what a subscription on it costs.
    let connected = 0;
    for (let i = 0; i < SUBSCRIBERS; i++) {
      clients.push(
        createClient({
          url: wsUrl,
          webSocketImpl: WebSocket,
          retryAttempts: 0,
          lazy: false,
          on: {
            connected: () => {
              connected += 1;
            },
          },
        }),
      );
      if (i % 100 === 99) await sleep(100);
    }
    while (connected < SUBSCRIBERS) await sleep(50);
    await sleep(3_000);
    const connectedGc = await afterGc(inspectPort);
    // Phase 1: poolUtilization.
    const pool: Phase = { lags: [], seqs: new Set() };
    const stops: (() => void)[] = [];
    for (let i = 0; i < clients.length; i += 100) {
      stops.push(
        ...subscribeAll(
          clients.slice(i, i + 100),
          'poolUtilization',
          'total { active utilization } targets { name utilization waiting }',
          pool,
        ),
      );
      await sleep(100);
    }
    await sleep(5_000); // every subscriber connected and past its first sample
    pool.lags.length = 0;
    const before = (await samplers(url)).find((s) => s.stream === 'poolUtilization')!;
    const measureStart = Date.now();
    const rss: number[] = [];
    for (let t = 0; t < DURATION_S; t++) {
      await sleep(1_000);
      rss.push(rssKb(child.pid!));
    }
    const after = (await samplers(url)).find((s) => s.stream === 'poolUtilization')!;
    const subscribedGc = await afterGc(inspectPort);
    const elapsedIntervals = (Date.now() - measureStart) / INTERVAL_MS;
    const lags = [...pool.lags].sort((a, b) => a - b);
    const steadyKb = median(rss.slice(-5));
    const perSubKb = (steadyKb - baseKb) / SUBSCRIBERS;

    console.log('\npoolUtilization');
    console.log(
      `  samplers running:             ${(await samplers(url)).length} (subscribers on it: ${after.subscribers})`,
    );
    console.log(
      `  samples taken per interval:   ${((after.samplesTaken - before.samplesTaken) / elapsedIntervals).toFixed(2)} (database queries: 0, pool figures are in-process)`,
    );
    console.log(
      `  deliveries measured:          ${lags.length} (${(lags.length / SUBSCRIBERS / elapsedIntervals).toFixed(2)} per subscriber per interval)`,
    );
    console.log(
      `  delivery lag p50 / p99 / max: ${percentile(lags, 50)} / ${percentile(lags, 99)} / ${lags.at(-1)} ms`,
    );
    console.log(
      `  server RSS, idle → subscribed: ${(baseKb / 1024).toFixed(1)} → ${(steadyKb / 1024).toFixed(1)} MB ` +
        `(${perSubKb.toFixed(1)} KB per subscriber, garbage not yet collected included)`,
    );
    console.log(
      `  retained after a full GC, per subscriber: heap ${((subscribedGc.heapKb - baseGc.heapKb) / SUBSCRIBERS).toFixed(1)} KB ` +
        `(connection ${((connectedGc.heapKb - baseGc.heapKb) / SUBSCRIBERS).toFixed(1)} KB + subscription ` +
        `${((subscribedGc.heapKb - connectedGc.heapKb) / SUBSCRIBERS).toFixed(1)} KB), ` +
        `RSS ${((subscribedGc.rssKb - baseGc.rssKb) / SUBSCRIBERS).toFixed(1)} KB`,
    );

    // Phase 2: connectionStates on the same connections: one query per interval, counted by the server.
    const states: Phase = { lags: [], seqs: new Set() };
    const stateStops = subscribeAll(clients, 'connectionStates', 'total active idle', states);
    await sleep(3_000);
    const callsBefore = await statementCalls(url);
    const s0 = (await samplers(url)).find((s) => s.stream === 'connectionStates')!;
    const t0 = Date.now();
    await sleep(10_000);
    const s1 = (await samplers(url)).find((s) => s.stream === 'connectionStates')!;
    const callsAfter = await statementCalls(url);
    const intervals = (Date.now() - t0) / INTERVAL_MS;
    const stateLags = [...states.lags].sort((a, b) => a - b);
    console.log('\nconnectionStates (same 1,000 connections, second subscription each)');
    console.log(`  subscribers on the sampler:   ${s1.subscribers}`);
    console.log(
      `  sampling queries per interval: ${((s1.samplesTaken - s0.samplesTaken) / intervals).toFixed(2)} (sampler count)` +
        (callsBefore !== null && callsAfter !== null
          ? `, ${((callsAfter - callsBefore) / intervals).toFixed(2)} (pg_stat_statements)`
          : ''),
    );
    console.log(
      `  delivery lag p50 / p99:       ${percentile(stateLags, 50)} / ${percentile(stateLags, 99)} ms`,
    );

    for (const stop of [...stops, ...stateStops]) stop();
    await sleep(1_500);
    console.log(`\nafter unsubscribing: ${(await samplers(url)).length} samplers running`);
  } finally {
    await Promise.all(clients.map((c) => c.dispose()));
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
