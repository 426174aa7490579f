import { Command, Option } from 'commander';
import { DEFAULTS } from '../../config/index.js';
import { rootFields } from '../client.js';
import { ExitCode } from '../exit-codes.js';
import { action, bytes, connection, type GlobalOptions } from '../output.js';
import { type Snapshot, takeSnapshot } from '../snapshot.js';

/** `poolpilot report`: everything `analyze` shows plus the suggestions, as Markdown or JSON. */
export function registerReport(program: Command): void {
  program.addCommand(
    new Command('report')
      .description(
        'comprehensive report: service, health, pools, connections, CPU, slow queries, suggestions',
      )
      .addOption(
        new Option('--format <format>', 'output format').choices(['markdown', 'json']).default('markdown'),
      )
      .option('--limit <n>', 'slow queries to include', (v) => Number.parseInt(v, 10), 10)
      .action(
        action(async (options: { format: 'markdown' | 'json'; limit: number }, command: Command) => {
          const global = command.optsWithGlobals<GlobalOptions>();
          const conn = connection(global);
          const snapshot = await takeSnapshot(conn, await rootFields(conn), {
            slowLimit: options.limit,
            forReport: true,
          });
          const report = { generatedAt: new Date().toISOString(), server: conn.url, ...snapshot };
          if (global.json || options.format === 'json')
            process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
          else process.stdout.write(markdown(conn.url, report));
          return snapshot.health.status === 'OK' ? ExitCode.Ok : ExitCode.Problem;
        }),
      ),
  );
}

const cell = (v: unknown) =>
  String(v ?? '-')
    .replace(/\|/g, '\\|')
    .replace(/\s+/g, ' ');
const num = (v: number | null | undefined, digits = 1) =>
  v === null || v === undefined ? '-' : v.toFixed(digits);

function mdTable(head: string[], rows: unknown[][]): string {
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => ' --- |').join('')}`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ].join('\n');
}

export function markdown(url: string, r: Snapshot & { generatedAt: string }): string {
  const p = r.poolStats;
  const out: string[] = [
    `# poolpilot report`,
    '',
    `Generated ${r.generatedAt} from ${url}: ${r.info.name} ${r.info.version}, PostgreSQL ${r.info.postgresVersion ?? 'unknown'}` +
      `${r.info.embedded ? ' (embedded)' : ''}, up ${Math.round(r.info.uptimeSeconds)} s, authentication ${r.info.authEnabled ? 'on' : 'off'}.`,
    '',
    `## Health: ${r.health.status}`,
    '',
    mdTable(
      ['target', 'role', 'status', 'reason'],
      r.health.targets.map((t) => [t.name, t.role, t.status, t.reason]),
    ),
    '',
    '## Pools',
    '',
    mdTable(
      [
        'target',
        'utilization %',
        'active',
        'idle',
        'waiting',
        'min',
        'max',
        'statements',
        'failed',
        'acquire p95 ms',
        'query p50 ms',
        'query p95 ms',
        'query p99 ms',
        'lag bytes',
      ],
      p.targets.map((t) => [
        t.name,
        num(t.utilization),
        t.active,
        t.idle,
        t.waiting,
        t.min,
        t.max,
        t.queries,
        t.errors,
        num(t.acquireWait.p95Ms, 2),
        num(t.queryLatency.p50Ms, 2),
        num(t.queryLatency.p95Ms, 2),
        num(t.queryLatency.p99Ms, 2),
        t.replication?.lagBytes ?? '-',
      ]),
    ),
    '',
    `Total: ${p.active}/${p.max} active (${num(p.utilization)}%), ${p.waiting} waiting, ${p.queries} statements, ${p.errors} failed, ${p.timeouts} timed out.`,
  ];
  if (r.connectionStates) {
    const c = r.connectionStates;
    out.push('', `## Connections (${c.target})`, '');
    out.push(
      mdTable(
        [
          'total',
          'active',
          'idle',
          'idle in transaction',
          'aborted',
          'waiting on locks',
          'oldest transaction ms',
        ],
        [
          [
            c.total,
            c.active,
            c.idle,
            c.idleInTransaction,
            c.idleInTransactionAborted,
            c.waitingOnLocks,
            num(c.oldestTransactionAgeMs, 0),
          ],
        ],
      ),
    );
  }
  if (r.cpu) {
    const c = r.cpu;
    out.push('', '## CPU', '');
    out.push(
      c.source === 'NONE'
        ? `Not measurable: ${(c.skipped ?? []).join('; ')}.`
        : `${num(c.percentOfOneCore)}% of one core, ${num(c.percentOfAllCores)}% of ${c.cores ?? '?'} cores (${c.source}: ${c.detail ?? ''}). Host load ${c.loadAverage.map((l: number) => l.toFixed(2)).join(' / ')} on ${c.hostCores} cores.`,
    );
  }
  if (r.slowQueries) {
    out.push('', '## Slowest statements', '');
    out.push(
      r.slowQueries.length === 0
        ? 'None recorded yet.'
        : mdTable(
            ['mean ms', 'calls', 'total ms', 'statement'],
            r.slowQueries.map((q) => [
              num(q.meanMs, 2),
              q.calls,
              num(q.totalMs, 0),
              `\`${cell(q.query).slice(0, 200)}\``,
            ]),
          ),
    );
  }
  if (r.tables) {
    out.push('', '## Largest tables', '');
    out.push(
      r.tables.length === 0
        ? 'No user tables.'
        : mdTable(
            ['table', 'live rows', 'dead rows', 'size', 'seq scans', 'index scans', 'last analyze'],
            r.tables.map((t) => [
              `${t.schema}.${t.name}${t.partitioned ? ' (partitioned)' : ''}`,
              t.liveRows,
              t.deadRows,
              bytes(t.totalBytes),
              t.seqScans,
              t.indexScans,
              t.lastAnalyze ?? 'never',
            ]),
          ),
    );
  }
  if (r.settings) {
    const { server, poolSize, settings } = r.settings;
    out.push('', '## Settings', '');
    out.push(
      `Server: ${server.memoryMb ?? '?'} MB memory, ${server.cpus ?? '?'} CPUs (${server.source}).` +
        // Sizes are per target; the first target is the primary.
        (poolSize ? ` ${poolAdvice(poolSize, r.poolStats.targets[0] ?? r.poolStats)}` : ''),
      '',
    );
    const changes = settings.filter((s) => s.needsChange);
    out.push(
      changes.length === 0
        ? 'Every checked setting is at its recommended value.'
        : mdTable(
            ['setting', 'current', 'recommended', 'restart', 'why'],
            changes.map((s) => [
              s.name,
              s.current,
              s.recommended,
              s.requiresRestart ? 'yes' : 'no',
              s.reason,
            ]),
          ),
    );
  }
  if (r.optimizations) {
    out.push('', '## Suggestions', '');
    out.push(
      r.optimizations.length === 0
        ? 'None: nothing to optimize right now.'
        : r.optimizations
            .map((o) => `- **${o.title}** (\`${o.id}\`, ${o.kind}, risk ${o.risk}): ${o.rationale}`)
            .join('\n'),
    );
  }
  if (r.unavailable.length > 0) {
    out.push('', '## Not included', '');
    out.push(r.unavailable.map((u) => `- ${u.section}: ${u.reason}`).join('\n'));
  }
  return `${out.join('\n')}\n`;
}

/**
 * The guide's pool size for the server's CPUs beside the running one, and why they can differ:
 * the suggestion follows the database server's size, the running pool follows DB_POOL_MIN and
 * DB_POOL_SIZE (defaults 5 and 20), and poolpilot never resizes on its own.
 */
export function poolAdvice(
  advice: NonNullable<NonNullable<Snapshot['settings']>['poolSize']>,
  running: { min: number; max: number },
): string {
  const suggested = `Suggested pool per target: min ${advice.min}, max ${advice.max} (default ${advice.default}), the guide's row for ${advice.row ?? `${advice.cpus} CPUs`}.`;
  if (running.min === advice.min && running.max === advice.max)
    return `${suggested} The running pool matches it.`;
  return (
    `${suggested} Running: min ${running.min}, max ${running.max}, from DB_POOL_MIN and DB_POOL_SIZE (defaults ${DEFAULTS.DB_POOL_MIN} and ${DEFAULTS.DB_POOL_SIZE}): ` +
    "the suggestion follows the database server's CPU count, the running sizes follow configuration, and poolpilot does not resize by itself. " +
    `To follow it: DB_POOL_MIN=${advice.min} DB_POOL_SIZE=${advice.max}, or live with \`resizePool(min: ${advice.min}, max: ${advice.max})\`.`
  );
}
