import type { Command } from 'commander';
import { rootFields } from '../client.js';
import { ExitCode } from '../exit-codes.js';
import {
  action,
  bar,
  bytes,
  connection,
  emit,
  type GlobalOptions,
  ms,
  paint,
  pct,
  statusText,
  table,
  truncate,
} from '../output.js';
import { type Snapshot, takeSnapshot } from '../snapshot.js';

/** `poolpilot analyze`: the pool, connections, CPU and the slowest statements, now. */
export function registerAnalyze(program: Command): void {
  program
    .command('analyze')
    .description('current state: pools per target, connection states, CPU, top slow queries')
    .option('--limit <n>', 'slow queries to show', (v) => Number.parseInt(v, 10), 5)
    .action(
      action(async (options: { limit: number }, command: Command) => {
        const global = command.optsWithGlobals<GlobalOptions>();
        const conn = connection(global);
        const snapshot = await takeSnapshot(conn, await rootFields(conn), { slowLimit: options.limit });
        emit(global, snapshot, () => renderAnalysis(snapshot));
        return snapshot.health.status === 'OK' ? ExitCode.Ok : ExitCode.Problem;
      }),
    );
}

export function renderAnalysis(s: Snapshot): string {
  const out: string[] = [];
  const p = s.poolStats;
  out.push(
    `${paint('bold', `${s.info.name} ${s.info.version}`)}  status ${statusText(s.health.status)}  PostgreSQL ${s.info.postgresVersion ?? '?'}` +
      `${s.info.embedded ? ' (embedded)' : ''}  up ${Math.round(s.info.uptimeSeconds)} s`,
  );
  out.push('', paint('bold', 'Pools'));
  out.push(
    table(
      [
        'target',
        'role',
        'status',
        'utilization',
        'active',
        'idle',
        'waiting',
        'max',
        'wait p95',
        'query p50',
        'query p99',
        'lag',
      ],
      p.targets.map((t) => [
        t.name,
        t.role.toLowerCase(),
        statusText(t.status),
        `${bar(t.utilization, 10)} ${pct(t.utilization)}`,
        t.active,
        t.idle,
        t.waiting,
        t.max,
        ms(t.acquireWait.p95Ms),
        ms(t.queryLatency.p50Ms),
        ms(t.queryLatency.p99Ms),
        t.replication ? `${bytes(t.replication.lagBytes)} / ${ms(t.replication.lagMs)}` : '-',
      ]),
    ),
  );
  out.push(
    `total ${p.active}/${p.max} active (${pct(p.utilization)}), ${p.waiting} waiting, ${p.queries} statements, ${p.errors} failed, ${p.timeouts} timed out`,
  );
  const down = s.health.targets.filter((t) => t.status !== 'UP');
  for (const t of down)
    out.push(paint('red', `${t.name} is ${t.status.toLowerCase()}: ${t.reason ?? 'no reason given'}`));

  if (s.connectionStates) {
    const c = s.connectionStates;
    out.push('', paint('bold', `Connections on ${c.target}`));
    out.push(
      `${c.total} total: ${c.active} active, ${c.idle} idle, ${c.idleInTransaction} idle in transaction, ` +
        `${c.idleInTransactionAborted} aborted, ${c.waitingOnLocks} waiting on locks; oldest transaction ${ms(c.oldestTransactionAgeMs)}`,
    );
  }
  if (s.cpu) {
    const c = s.cpu;
    out.push('', paint('bold', 'CPU'));
    out.push(
      c.source === 'NONE'
        ? `not measurable here (${(c.skipped ?? []).join('; ')})`
        : `${pct(c.percentOfOneCore)} of one core, ${pct(c.percentOfAllCores)} of ${c.cores ?? '?'} cores (${c.source.toLowerCase()}: ${c.detail ?? ''}), memory ${bytes(c.memoryBytes)}`,
    );
    out.push(`host load ${c.loadAverage.map((l: number) => l.toFixed(2)).join(' ')} on ${c.hostCores} cores`);
  }
  if (s.slowQueries) {
    out.push('', paint('bold', 'Slowest statements'));
    out.push(
      s.slowQueries.length === 0
        ? 'none recorded yet'
        : table(
            ['mean', 'calls', 'total', 'statement'],
            s.slowQueries.map((q) => [ms(q.meanMs), q.calls, ms(q.totalMs), truncate(q.query, 80)]),
          ),
    );
  }
  for (const u of s.unavailable) out.push(paint('dim', `${u.section}: unavailable (${u.reason})`));
  return out.join('\n');
}
