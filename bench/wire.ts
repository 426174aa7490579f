import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort, serverUser } from '../src/embedded/index.js';
import {
  type ClientHandler,
  commandComplete,
  dataRow,
  Frontend,
  readyForQuery,
  rowDescription,
  TypeOid,
  WireListener,
} from '../src/wire/index.js';
import { parseVerifier, type ScramVerifier } from '../src/wire/scram-verifier.js';
import { type EmbeddedCluster, run, startEmbeddedCluster } from '../support/postgres-cluster.js';
import { sleep } from './load.js';

/**
 * `npm run bench:wire [-- --seconds N --clients N --pool N --scale N]`
 *
 * pgbench against one PostgreSQL three ways: directly, through PgBouncer (Debian's, transaction
 * mode, same pool size, started and stopped here) and through poolpilot's wire front (a poolpilot
 * started here with WIRE_PORT and a replica). Workloads: -S simple, -S extended, -S prepared, TPC-B
 * simple and prepared, -S with a new connection per transaction (-C), then a 1-client run for the
 * p50 latency each hop adds. A run that fails (PgBouncer 1.18 and `-M prepared`) shows its error.
 * Printed side by side with ratios and written to bench/results/wire.{json,md}; never asserted.
 * A target that cannot serve (poolpilot before its proxy exists) is reported 'not available'.
 */
const exec = promisify(execFile);
const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  const value = i === -1 ? fallback : Number(process.argv[i + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} expects a positive number`);
  return value;
};
const SECONDS = flag('seconds', 10);
const CLIENTS = flag('clients', 32);
const POOL = flag('pool', 20);
const SCALE = flag('scale', 10);
const THREADS = Math.min(2, CLIENTS);

interface Target {
  name: string;
  /** The proxy process, whose CPU time is measured per transaction. */
  pid?: number;
  port: number;
  user: string;
  password: string;
  database: string;
}

interface Workload {
  name: string;
  args: string[];
  clients: number;
}

const WORKLOADS: Workload[] = [
  { name: '-S simple', args: ['-S', '-M', 'simple'], clients: CLIENTS },
  { name: '-S extended', args: ['-S', '-M', 'extended'], clients: CLIENTS },
  { name: '-S prepared', args: ['-S', '-M', 'prepared'], clients: CLIENTS },
  { name: 'TPC-B simple', args: ['-M', 'simple'], clients: CLIENTS },
  { name: 'TPC-B prepared', args: ['-M', 'prepared'], clients: CLIENTS },
  { name: '-S -C (connect per transaction)', args: ['-S', '-M', 'simple', '-C'], clients: CLIENTS },
];

interface RunResult {
  tps: number;
  latencyMs: number;
  failed: number;
  /** CPU time (user + system) the proxy process spent per transaction, µs; absent for direct. */
  proxyCpuUs?: number;
}

type Row = Record<string, RunResult | { unavailable: string }>;

async function main(): Promise<void> {
  const owned: { cluster?: EmbeddedCluster; bouncer?: ChildProcess; poolpilot?: ChildProcess; dir?: string } =
    {};
  const cleanup = async () => {
    for (const child of [owned.bouncer, owned.poolpilot]) {
      if (child && child.exitCode === null) {
        child.kill('SIGTERM');
        await Promise.race([new Promise((r) => child.once('exit', r)), sleep(10_000)]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    }
    await owned.cluster?.stop();
    if (owned.dir) await rm(owned.dir, { recursive: true, force: true });
  };
  const onSignal = () => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    console.log(
      `wire benchmark: pgbench, ${CLIENTS} clients, ${THREADS} threads, ${SECONDS} s per run, scale ${SCALE}, pool ${POOL}`,
    );
    owned.cluster = await startEmbeddedCluster({ replica: true });
    const cluster = owned.cluster;
    const password = cluster.password;
    const direct: Target = {
      name: 'direct',
      port: cluster.primary.port,
      user: 'postgres',
      password,
      database: 'postgres',
    };
    await pgbench(direct, ['-i', '-q', '-s', String(SCALE)]);

    // Every hop checks the same SCRAM verifier, PostgreSQL's own: no PBKDF2 on the server side of any
    // login, and PgBouncer can log in to PostgreSQL with the client's proof (its SCRAM pass-through).
    const { rows: authid } = await run(
      cluster.primaryUrl,
      "SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'",
    );
    const verifierText = String(authid[0].rolpassword);
    const verifier = parseVerifier(verifierText);
    if (typeof verifier === 'string') throw new Error(`the postgres role has no SCRAM verifier: ${verifier}`);

    owned.dir = await mkdtemp(path.join(tmpdir(), 'poolpilot-bench-wire-'));
    const targets: { target: Target; unavailable?: string }[] = [{ target: direct }];

    const bouncerPort = await freePort();
    const bouncer: Target = {
      name: 'PgBouncer',
      port: bouncerPort,
      user: 'postgres',
      password,
      database: 'postgres',
    };
    try {
      owned.bouncer = await startPgBouncer(owned.dir, cluster.primary.port, bouncerPort, verifierText);
      bouncer.pid = owned.bouncer.pid;
      await probe(bouncer);
      targets.push({ target: bouncer });
    } catch (error) {
      targets.push({ target: bouncer, unavailable: (error as Error).message });
    }

    const wirePort = await freePort();
    const front: Target = {
      name: 'poolpilot',
      port: wirePort,
      user: 'postgres',
      password,
      database: 'postgres',
    };
    try {
      owned.poolpilot = await startPoolpilot(cluster, wirePort, verifierText);
      front.pid = owned.poolpilot.pid;
      await probe(front);
      targets.push({ target: front });
    } catch (error) {
      targets.push({ target: front, unavailable: (error as Error).message });
    }

    const rows: Record<string, Row> = {};
    for (const w of WORKLOADS) {
      rows[w.name] = {};
      for (const { target, unavailable } of targets) {
        if (unavailable) {
          rows[w.name]![target.name] = { unavailable };
          continue;
        }
        const result = await measure(target, [
          ...w.args,
          '-c',
          String(w.clients),
          '-j',
          String(THREADS),
        ]).catch((error: Error & { stderr?: string }) => ({ unavailable: failure(error) }));
        rows[w.name]![target.name] = result;
        console.log(`  ${w.name.padEnd(34)} ${target.name.padEnd(10)} ${describe(result)}`);
      }
    }

    const latency: Record<string, number | { unavailable: string }> = {};
    for (const { target, unavailable } of targets) {
      latency[target.name] = unavailable
        ? { unavailable }
        : await latencyP50(target, owned.dir).catch((error: Error) => ({
            unavailable: error.message.split('\n')[0]!,
          }));
      const l = latency[target.name]!;
      console.log(
        `  1 client -S simple p50        ${target.name.padEnd(10)} ${typeof l === 'number' ? `${l.toFixed(3)} ms` : `not available (${l.unavailable})`}`,
      );
    }

    // The front's own cost, with nothing behind it: a handler that answers every query itself.
    // Not a pooling figure: the ceiling the handshake and framing leave for the proxy.
    const frontAlone = await measureFrontAlone(password, verifier);

    const results = {
      at: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? null, node: process.version },
      pgbench: (await exec('pgbench', ['--version'])).stdout.trim(),
      pgbouncer: await exec('pgbouncer', ['--version']).then(
        (r) => r.stdout.split('\n')[0]!.trim(),
        () => null,
      ),
      database: 'embedded PostgreSQL 16 (fsync off) with a streaming replica',
      clients: CLIENTS,
      threads: THREADS,
      seconds: SECONDS,
      scale: SCALE,
      poolSize: POOL,
      rows,
      latencyP50Ms: latency,
      frontAlone,
    };
    const markdown = toMarkdown(results);
    console.log(`\n${markdown}`);
    const out = path.resolve(import.meta.dirname, 'results');
    await mkdir(out, { recursive: true });
    await writeFile(path.join(out, 'wire.json'), `${JSON.stringify(results, null, 2)}\n`);
    await writeFile(path.join(out, 'wire.md'), `${markdown}\n`);
    console.log('written to bench/results/wire.json and .md');
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

function env(t: Target): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, PGPASSWORD: t.password, PGSSLMODE: 'disable', PGCONNECT_TIMEOUT: '10' };
}

function pgbench(t: Target, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return exec('pgbench', ['-h', '127.0.0.1', '-p', String(t.port), '-U', t.user, ...args, t.database], {
    env: env(t),
    timeout: (SECONDS + 120) * 1000,
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** user + system CPU time of a process so far, µs (Linux /proc; clock ticks of 10 ms). */
async function cpuUs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

async function measure(t: Target, args: string[]): Promise<RunResult> {
  const cpuBefore = t.pid ? await cpuUs(t.pid) : 0;
  const { stdout } = await pgbench(t, ['-n', '-T', String(SECONDS), ...args]);
  const cpuAfter = t.pid ? await cpuUs(t.pid) : 0;
  const transactions = /number of transactions actually processed: (\d+)/.exec(stdout);
  const tps =
    /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout) ?? /tps = ([\d.]+)/.exec(stdout);
  const latency = /latency average = ([\d.]+) ms/.exec(stdout);
  const failed = /number of failed transactions: (\d+)/.exec(stdout);
  if (!tps) throw new Error(`pgbench printed no tps:\n${stdout}`);
  return {
    tps: Number(tps[1]),
    latencyMs: latency ? Number(latency[1]) : Number.NaN,
    failed: failed ? Number(failed[1]) : 0,
    ...(t.pid && transactions ? { proxyCpuUs: (cpuAfter - cpuBefore) / Number(transactions[1]) } : {}),
  };
}

/** What went wrong in a pgbench run, in pgbench's own words (its first error line). */
function failure(error: Error & { stderr?: string }): string {
  const line = (error.stderr ?? '').split('\n').find((l) => /error|aborted/i.test(l));
  return (line ?? error.message.split('\n')[0]!).replace(/^pgbench: (error: )?/, '').trim();
}

/** Median per-transaction latency at one client, from pgbench's transaction log. */
async function latencyP50(t: Target, dir: string): Promise<number> {
  const logDir = path.join(dir, `log-${t.name}`);
  await mkdir(logDir, { recursive: true });
  const prefix = path.join(logDir, 'tx');
  await pgbench(t, [
    '-n',
    '-S',
    '-M',
    'simple',
    '-c',
    '1',
    '-j',
    '1',
    '-T',
    String(Math.max(3, SECONDS / 2)),
    '-l',
    `--log-prefix=${prefix}`,
  ]);
  const files = (await readdir(logDir)).filter((f) => f.startsWith('tx'));
  const latencies: number[] = [];
  for (const f of files) {
    for (const line of (await readFile(path.join(logDir, f), 'utf8')).split('\n')) {
      // Each line: client_id transaction_no latency_us script_no epoch_s epoch_us.
      const us = Number(line.split(' ')[2]);
      if (line && Number.isFinite(us)) latencies.push(us);
    }
  }
  if (latencies.length === 0) throw new Error('pgbench wrote no transaction log');
  latencies.sort((a, b) => a - b);
  return latencies[Math.floor(latencies.length / 2)]! / 1000;
}

/**
 * Answers every simple Query with one precomputed row, in one write: the least a handler can do.
 * Three columns because pgbench's start-up probe of pgbench_accounts reads three (count, partition
 * method NULL, partitions); the first also serves as pgbench_branches' count (the scale).
 */
function answerEverything(): ClientHandler {
  const answer = Buffer.concat([
    rowDescription([
      { name: 'n', typeOid: TypeOid.int4, typeSize: 4 },
      { name: 'partstrat', typeOid: TypeOid.text },
      { name: 'count', typeOid: TypeOid.int8, typeSize: 8 },
    ]),
    dataRow(['10', null, '0']),
    commandComplete('SELECT 1'),
    readyForQuery('I'),
  ]);
  return {
    attach: (client) => ({
      message(type) {
        if (type === Frontend.Query) client.send(answer);
        else if (type === Frontend.Terminate) client.socket.end();
      },
      closed() {},
    }),
  };
}

async function measureFrontAlone(
  password: string,
  verifier: ScramVerifier,
): Promise<Record<string, RunResult | { unavailable: string }>> {
  const listener = new WireListener({
    database: 'postgres',
    users: new Map([['postgres', verifier]]),
    maxClients: 1000,
    handler: answerEverything(),
    parameters: () => ({
      server_version: '16.0',
      server_encoding: 'UTF8',
      client_encoding: 'UTF8',
      DateStyle: 'ISO, MDY',
      TimeZone: 'UTC',
      integer_datetimes: 'on',
      standard_conforming_strings: 'on',
    }),
  });
  const { port } = await listener.listen(0, '127.0.0.1');
  const t: Target = { name: 'front alone', port, user: 'postgres', password, database: 'postgres' };
  const out: Record<string, RunResult | { unavailable: string }> = {};
  try {
    for (const [name, args] of [
      ['-S simple', ['-S', '-M', 'simple']],
      ['-S -C (connect per transaction)', ['-S', '-M', 'simple', '-C']],
    ] as const) {
      out[name] = await measure(t, [...args, '-c', String(CLIENTS), '-j', String(THREADS)]).catch(
        (error: Error) => ({
          unavailable: error.message.split('\n')[0]!,
        }),
      );
      console.log(`  ${name.padEnd(34)} ${t.name.padEnd(10)} ${describe(out[name]!)}`);
    }
  } finally {
    await listener.close();
  }
  return out;
}

async function probe(t: Target): Promise<void> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: t.port,
    user: t.user,
    password: t.password,
    database: t.database,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT count(*) FROM pgbench_branches');
  } finally {
    await client.end().catch(() => {});
  }
}

/** PgBouncer in transaction mode with the same pool size, in its own temp dir, as a non-root user. */
async function startPgBouncer(
  dir: string,
  pgPort: number,
  port: number,
  verifier: string,
): Promise<ChildProcess> {
  const home = path.join(dir, 'pgbouncer');
  await mkdir(home, { recursive: true });
  await writeFile(path.join(home, 'userlist.txt'), `"postgres" "${verifier}"\n`);
  await writeFile(
    path.join(home, 'pgbouncer.ini'),
    [
      '[databases]',
      `postgres = host=127.0.0.1 port=${pgPort} dbname=postgres`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = scram-sha-256',
      `auth_file = ${path.join(home, 'userlist.txt')}`,
      'pool_mode = transaction',
      `default_pool_size = ${POOL}`,
      'max_client_conn = 1000',
      'ignore_startup_parameters = extra_float_digits',
      `logfile = ${path.join(home, 'pgbouncer.log')}`,
      'log_connections = 0',
      'log_disconnections = 0',
      '',
    ].join('\n'),
  );
  // PgBouncer refuses to run as root: run it as the OS user the embedded PostgreSQL runs as.
  const user = serverUser();
  if (user) {
    for (const p of [dir, home]) await chown(p, user.uid, user.gid);
    await chmod(dir, 0o755);
    for (const f of ['userlist.txt', 'pgbouncer.ini']) await chown(path.join(home, f), user.uid, user.gid);
  }
  const child = spawn('pgbouncer', [path.join(home, 'pgbouncer.ini')], {
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  await waitForPort(child, port, () => stderr);
  return child;
}

async function startPoolpilot(
  cluster: EmbeddedCluster,
  wirePort: number,
  verifier: string,
): Promise<ChildProcess> {
  const httpPort = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: path.resolve(import.meta.dirname, '..'),
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: cluster.primaryUrl,
      DB_REPLICA_URLS: cluster.replicaUrl ?? '',
      PORT: String(httpPort),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      DB_POOL_SIZE: String(POOL),
      DB_POOL_MIN: String(POOL),
      WIRE_PORT: String(wirePort),
      WIRE_HOST: '127.0.0.1',
      WIRE_USERS: `postgres:${verifier}`,
      WIRE_MAX_CLIENTS: '1000',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`poolpilot exited with code ${child.exitCode}: ${stderr.slice(0, 300)}`);
    const healthy = await fetch(`http://127.0.0.1:${httpPort}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (healthy) break;
    await sleep(100);
  }
  try {
    await waitForPort(child, wirePort, () => stderr, 3_000);
  } catch {
    throw new Error('its wire front does not listen on WIRE_PORT yet (the proxy has not landed)');
  }
  return child;
}

async function waitForPort(
  child: ChildProcess,
  port: number,
  stderr: () => string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`exited with code ${child.exitCode}: ${stderr().slice(0, 300)}`);
    const open = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (open) return;
    await sleep(100);
  }
  throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
}

function describe(r: RunResult | { unavailable: string }): string {
  if ('unavailable' in r) return `not available (${r.unavailable})`;
  return `${Math.round(r.tps)} tps, latency ${r.latencyMs.toFixed(3)} ms, failed ${r.failed}${r.proxyCpuUs === undefined ? '' : `, proxy CPU ${r.proxyCpuUs.toFixed(1)} µs/tx`}`;
}

function toMarkdown(r: {
  at: string;
  machine: { cpus: number; node: string };
  pgbench: string;
  pgbouncer: string | null;
  clients: number;
  threads: number;
  seconds: number;
  scale: number;
  poolSize: number;
  rows: Record<string, Row>;
  latencyP50Ms: Record<string, number | { unavailable: string }>;
  frontAlone: Record<string, RunResult | { unavailable: string }>;
}): string {
  const tps = (x: RunResult | { unavailable: string } | undefined) =>
    !x
      ? 'n/a'
      : 'unavailable' in x
        ? 'fails'
        : `${Math.round(x.tps)}${x.failed ? ` (${x.failed} failed)` : ''}`;
  const ratio = (
    a: RunResult | { unavailable: string } | undefined,
    b: RunResult | { unavailable: string } | undefined,
  ) => (!a || !b || 'unavailable' in a || 'unavailable' in b ? 'n/a' : (a.tps / b.tps).toFixed(2));
  const lines = [
    `### wire benchmark (${r.at}; ${r.machine.cpus} CPUs, Node ${r.machine.node}; ${r.pgbench}; ${r.pgbouncer ?? 'PgBouncer ?'})`,
    '',
    `pgbench, ${r.clients} clients, ${r.threads} threads, ${r.seconds} s per run, scale ${r.scale}; PgBouncer and poolpilot in transaction mode with a pool of ${r.poolSize}; SCRAM-SHA-256 everywhere.`,
    '',
    '| workload | direct tps | PgBouncer tps | poolpilot tps | PgBouncer / direct | poolpilot / PgBouncer | proxy CPU µs/tx PgBouncer | proxy CPU µs/tx poolpilot |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const cpu = (x: RunResult | { unavailable: string } | undefined) =>
    !x || 'unavailable' in x || x.proxyCpuUs === undefined ? 'n/a' : x.proxyCpuUs.toFixed(1);
  for (const [name, row] of Object.entries(r.rows)) {
    lines.push(
      `| ${name} | ${tps(row.direct)} | ${tps(row.PgBouncer)} | ${tps(row.poolpilot)} | ${ratio(row.PgBouncer, row.direct)} | ${ratio(row.poolpilot, row.PgBouncer)} | ${cpu(row.PgBouncer)} | ${cpu(row.poolpilot)} |`,
    );
  }
  const failures = Object.entries(r.rows).flatMap(([name, row]) =>
    Object.entries(row)
      .filter(([, x]) => 'unavailable' in x)
      .map(([target, x]) => `- ${name}, ${target}: fails: ${(x as { unavailable: string }).unavailable}`),
  );
  if (failures.length > 0) lines.push('', 'Runs that failed (n/a above):', '', ...failures);
  const prepared = r.rows['-S prepared']?.poolpilot;
  const extended = r.rows['-S extended']?.PgBouncer;
  lines.push(
    '',
    `poolpilot -S -M prepared / PgBouncer -S -M extended: ${ratio(prepared, extended)} (goal ≥ 1.0: a statement parsed once is cheaper to route).`,
  );
  const l = r.latencyP50Ms;
  const num = (x: number | { unavailable: string } | undefined) => (typeof x === 'number' ? x : null);
  const d = num(l.direct);
  const fmt = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));
  const added = (x: number | null) =>
    x === null || d === null ? 'n/a' : `${x - d >= 0 ? '+' : ''}${(x - d).toFixed(3)}`;
  lines.push(
    '',
    '| 1 client, -S simple | p50 ms | added over direct, ms |',
    '|---|---:|---:|',
    `| direct | ${fmt(d)} | |`,
    `| PgBouncer | ${fmt(num(l.PgBouncer))} | ${added(num(l.PgBouncer))} |`,
    `| poolpilot | ${fmt(num(l.poolpilot))} | ${added(num(l.poolpilot))} |`,
  );
  lines.push(
    '',
    'The wire front alone (SCRAM login, framing and encoding, a handler that answers every query itself, no PostgreSQL): the ceiling the front leaves for the proxy, not a pooling figure.',
    '',
    '| workload | front alone tps | vs PgBouncer |',
    '|---|---:|---:|',
    ...Object.entries(r.frontAlone).map(
      ([name, x]) => `| ${name} | ${tps(x)} | ${ratio(x, r.rows[name]?.PgBouncer)} |`,
    ),
  );
  for (const [name, x] of Object.entries(l)) {
    if (typeof x !== 'number') lines.push('', `${name}: not available (${x.unavailable})`);
  }
  return lines.join('\n');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
