import { statfs } from 'node:fs/promises';
import { Command, Option } from 'commander';
import type { ConnectionStatesView, CpuView, PoolSampleView, SlowQueryView } from '../api-types.js';
import {
  type Connection,
  request,
  requireFields,
  rootFields,
  subscriptionClient,
  toCliError,
} from '../client.js';
import { CliError, ExitCode } from '../exit-codes.js';
import {
  action,
  bar,
  bytes,
  connection,
  type GlobalOptions,
  ms,
  paint,
  pct,
  statusText,
  table,
  truncate,
} from '../output.js';
import { SLOW_QUERIES } from '../snapshot.js';

/**
 * `poolpilot monitor`: a live terminal dashboard fed by the server's subscriptions. Samples
 * arrive over one graphql-ws socket; the screen is redrawn once per interval from the newest of
 * each. `q` or Ctrl-C quits and restores the terminal. With --json it writes one JSON object
 * per refresh (NDJSON) instead of drawing.
 */

const POOL = (ms: number) => `subscription { poolUtilization(intervalMs: ${ms}) { at status
  total { total active idle waiting max utilization queriesPerSecond errors acquireWaitP95Ms }
  targets { name role up total active idle waiting max utilization queriesPerSecond errors acquireWaitP95Ms }
  queue { depth running concurrency } } }`;
const CPU = (
  ms: number,
) => `subscription { containerCpu(intervalMs: ${ms}) { at source detail percentOfOneCore
  percentOfAllCores cores memoryBytes hostCores loadAverage } }`;
const CONNECTIONS = (
  ms: number,
) => `subscription { connectionStates(intervalMs: ${ms}) { at target total active idle
  idleInTransaction idleInTransactionAborted waitingOnLocks oldestTransactionAgeMs error } }`;

const FIRST_FRAME_WAIT_MS = 5_000;

interface Frame {
  at: string;
  pool: PoolSampleView | null;
  cpu: CpuView | null;
  connections: ConnectionStatesView | null;
  slowQueries: SlowQueryView[] | null;
  disk: { path: string; totalBytes: number; freeBytes: number } | null;
  refresh: number;
}

export function registerMonitor(program: Command): void {
  program.addCommand(
    new Command('monitor')
      .description(
        'live terminal dashboard: pools per target, CPU, connection states, slow queries, host load and disk (q quits)',
      )
      .addOption(
        new Option('-i, --interval <seconds>', 'seconds between refreshes')
          .argParser((v) => {
            const n = Number(v);
            if (!Number.isFinite(n) || n < 0.25 || n > 60)
              throw new CliError(
                ExitCode.Usage,
                `--interval must be 0.25..60 seconds, got ${JSON.stringify(v)}`,
              );
            return n;
          })
          .default(2),
      )
      .addOption(
        new Option('--count <n>', 'stop after n refreshes (default: until q)').argParser((v) =>
          Number.parseInt(v, 10),
        ),
      )
      .addOption(
        new Option('--disk <path>', 'file system to show the free space of (on this machine)').default('/'),
      )
      .action(
        action(async (options: { interval: number; count?: number; disk: string }, command: Command) => {
          const global = command.optsWithGlobals<GlobalOptions>();
          const conn = connection(global);
          const fields = await rootFields(conn);
          requireFields(
            fields,
            { subscription: ['poolUtilization', 'containerCpu', 'connectionStates'] },
            'monitor',
          );
          return monitor(conn, {
            ...options,
            json: global.json === true,
            slowQueries: fields.query.has('slowQueries'),
          });
        }),
      ),
  );
}

async function monitor(
  conn: Connection,
  options: { interval: number; count?: number; disk: string; json: boolean; slowQueries: boolean },
): Promise<ExitCode> {
  const intervalMs = Math.round(options.interval * 1000);
  const opened = performance.now();
  const frame: Frame = {
    at: '',
    pool: null,
    cpu: null,
    connections: null,
    slowQueries: null,
    disk: null,
    refresh: 0,
  };
  const draw = !options.json && process.stdout.isTTY === true;
  let finish!: (code: ExitCode, error?: CliError) => void;
  const finished = new Promise<{ code: ExitCode; error?: CliError }>((resolve) => {
    finish = (code, error) => resolve({ code, error });
  });

  const client = subscriptionClient(conn, (code, reason) => {
    if (code === 4401 || code === 4403)
      finish(ExitCode.Unauthorized, new CliError(ExitCode.Unauthorized, `WebSocket closed: ${reason}`));
    else
      finish(
        ExitCode.Unreachable,
        new CliError(
          ExitCode.Unreachable,
          `the server closed the connection (${code}${reason ? ` ${reason}` : ''})`,
        ),
      );
  });
  const subscribe = <T>(query: string, onData: (data: T) => void) =>
    client.subscribe(
      { query },
      {
        next: (result) => {
          if (result.errors?.length) finish(ExitCode.Failed, toCliError(result.errors));
          else onData(result.data as T);
        },
        error: (error) => finish(toCliError(error).exitCode, toCliError(error)),
        complete: () => undefined,
      },
    );
  const unsubscribe = [
    subscribe<{ poolUtilization: PoolSampleView }>(POOL(intervalMs), (d) => (frame.pool = d.poolUtilization)),
    subscribe<{ containerCpu: CpuView }>(CPU(intervalMs), (d) => (frame.cpu = d.containerCpu)),
    subscribe<{ connectionStates: ConnectionStatesView }>(
      CONNECTIONS(intervalMs),
      (d) => (frame.connections = d.connectionStates),
    ),
  ];

  // Slow queries change slowly and cost a pg_stat_statements read: every fifth refresh.
  const pollSlow = async () => {
    if (!options.slowQueries) return;
    try {
      frame.slowQueries = (
        await request<{ slowQueries: SlowQueryView[] }>(conn, SLOW_QUERIES, { limit: 5 })
      ).slowQueries;
    } catch {
      frame.slowQueries = null;
    }
  };
  const readDisk = async () => {
    try {
      const s = await statfs(options.disk);
      frame.disk = { path: options.disk, totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
    } catch {
      frame.disk = null;
    }
  };

  const stdin = process.stdin;
  const onKey = (key: Buffer) => {
    const k = key.toString();
    if (k === 'q' || k === 'Q' || k === '\u0003') finish(ExitCode.Ok);
  };
  const onSignal = () => finish(ExitCode.Ok);
  if (stdin.isTTY) {
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onKey);
  }
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (draw) process.stdout.write('\x1b[?1049h\x1b[?25l');

  let drawing = false;
  const tick = async () => {
    if (drawing) return; // a slow slow-queries poll skips a refresh rather than doubling one
    drawing = true;
    try {
      await refresh();
    } finally {
      drawing = false;
    }
  };
  const refresh = async () => {
    if (frame.refresh % 5 === 0) await Promise.all([pollSlow(), readDisk()]);
    // The first frame waits for a sample of every stream (a slow server gets a few seconds).
    const complete = frame.pool && frame.cpu && frame.connections;
    if (!frame.pool || (!complete && performance.now() - opened < FIRST_FRAME_WAIT_MS)) return;
    frame.refresh += 1;
    frame.at = new Date().toISOString();
    if (options.json) process.stdout.write(`${JSON.stringify(frame)}\n`);
    else process.stdout.write(`${draw ? '\x1b[H\x1b[2J' : ''}${render(conn.url, options.interval, frame)}\n`);
    if (options.count !== undefined && frame.refresh >= options.count) finish(ExitCode.Ok);
  };
  const first = setTimeout(() => void tick(), Math.min(500, intervalMs));
  const timer = setInterval(() => void tick(), intervalMs);

  const { code, error } = await finished;
  clearTimeout(first);
  clearInterval(timer);
  for (const off of unsubscribe) off();
  await client.dispose();
  if (stdin.isTTY) {
    stdin.off('data', onKey);
    stdin.setRawMode(false);
    stdin.pause();
  }
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (draw) process.stdout.write('\x1b[?25h\x1b[?1049l');
  if (error) throw error;
  return code;
}

export function render(url: string, interval: number, f: Frame): string {
  const out: string[] = [];
  const p = f.pool!;
  out.push(
    `${paint('bold', 'poolpilot monitor')}  ${url}  status ${statusText(p.status)}  ${new Date(f.at).toLocaleTimeString()}  every ${interval}s  ${paint('dim', '(q quits)')}`,
  );
  out.push('');
  out.push(
    table(
      ['target', 'up', 'utilization', 'active', 'idle', 'waiting', 'max', 'qps', 'errors', 'wait p95'],
      [...p.targets, { ...p.total, name: 'total', up: true }].map((t) => [
        t.name,
        t.up ? paint('green', 'yes') : paint('red', 'no'),
        `${bar(t.utilization, 16)} ${pct(t.utilization)}`,
        t.active,
        t.idle,
        t.waiting,
        t.max,
        t.queriesPerSecond.toFixed(1),
        t.errors,
        ms(t.acquireWaitP95Ms),
      ]),
    ),
  );
  if (p.queue)
    out.push(`complex queue: ${p.queue.running}/${p.queue.concurrency} running, ${p.queue.depth} waiting`);
  const c = f.cpu;
  if (c) {
    const cpuPct = c.percentOfAllCores;
    out.push(
      '',
      cpuPct === null || c.source === 'NONE'
        ? `CPU        not measurable here`
        : `CPU        ${bar(cpuPct, 24)} ${pct(cpuPct)} of ${c.cores ?? '?'} cores (${pct(c.percentOfOneCore)} of one)  ${c.source.toLowerCase()} ${c.detail ?? ''}  mem ${bytes(c.memoryBytes)}`,
      `host load  ${c.loadAverage.map((l: number) => l.toFixed(2)).join(' ')}  (${c.hostCores} cores)`,
    );
  }
  if (f.disk) {
    const used = 100 - (f.disk.freeBytes / f.disk.totalBytes) * 100;
    out.push(
      `disk ${f.disk.path.padEnd(5)} ${bar(used, 24)} ${pct(used)} used, ${bytes(f.disk.freeBytes)} free of ${bytes(f.disk.totalBytes)} (this machine)`,
    );
  }
  const s = f.connections;
  if (s) {
    out.push(
      '',
      s.error
        ? `connections on ${s.target}: ${s.error}`
        : `connections on ${s.target}: ${s.total} total, ${s.active} active, ${s.idle} idle, ${s.idleInTransaction} idle in transaction, ` +
            `${s.idleInTransactionAborted} aborted, ${s.waitingOnLocks} waiting on locks, oldest transaction ${ms(s.oldestTransactionAgeMs)}`,
    );
  }
  if (f.slowQueries && f.slowQueries.length > 0) {
    out.push('', paint('bold', 'slowest statements'));
    out.push(
      table(
        ['mean', 'calls', 'statement'],
        f.slowQueries.map((q) => [ms(q.meanMs), q.calls, truncate(q.query, 70)]),
      ),
    );
  }
  return out.join('\n');
}
