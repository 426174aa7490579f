import { SingleBar } from 'cli-progress';
import { Command, Option } from 'commander';
import type { ExecuteView } from '../api-types.js';
import { causeOf, graphqlUrl, requireFields, rootFields } from '../client.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { action, connection, emit, type GlobalOptions, ms, paint, table, truncate } from '../output.js';

/**
 * `poolpilot test`: loads the pool through `executeQuery` with `concurrency` callers in parallel
 * until `iterations` statements have run, then reports throughput, latency percentiles and how
 * the statements were routed.
 */

const EXECUTE = `mutation($sql: String!) { executeQuery(sql: $sql) { rowCount durationMs route target queued queueWaitMs } }`;
const DEFAULT_SQL = ['SELECT 1'];

export interface LoadResult {
  iterations: number;
  concurrency: number;
  statements: string[];
  succeeded: number;
  failed: number;
  elapsedMs: number;
  throughputPerSecond: number;
  /** Round trip as the client saw it: HTTP + GraphQL + queue + pool + PostgreSQL. */
  latencyMs: Percentiles;
  /** `durationMs` as the server measured it: the statement on its connection. */
  serverDurationMs: Percentiles;
  routes: Record<string, number>;
  targets: Record<string, number>;
  queued: number;
  errors: Record<string, number>;
}

interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

const positive = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new CliError(ExitCode.Usage, `${name} must be a whole number >= 1, got ${JSON.stringify(value)}`);
  return n;
};

export function registerTest(program: Command): void {
  program.addCommand(
    new Command('test')
      .description('load the pool through executeQuery; report throughput, p50/p95/p99 latency and routing')
      .addOption(
        new Option('-n, --iterations <n>', 'statements to run in all')
          .argParser(positive('--iterations'))
          .default(1000),
      )
      .addOption(
        new Option('-c, --concurrency <c>', 'callers in parallel')
          .argParser(positive('--concurrency'))
          .default(10),
      )
      .addOption(
        new Option(
          '--sql <statement>',
          'statement to run; repeat for a mix, taken in turn (default: SELECT 1)',
        ).argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]),
      )
      .action(
        action(
          async (options: { iterations: number; concurrency: number; sql?: string[] }, command: Command) => {
            const global = command.optsWithGlobals<GlobalOptions>();
            const conn = connection(global);
            requireFields(await rootFields(conn), { mutation: ['executeQuery'] }, 'test');
            const result = await runLoad(
              conn.url,
              conn.token,
              options.iterations,
              options.concurrency,
              options.sql ?? DEFAULT_SQL,
              !global.json,
            );
            emit(global, result, () => renderLoad(result));
            return result.failed > 0 ? ExitCode.Problem : ExitCode.Ok;
          },
        ),
      ),
  );
}

export async function runLoad(
  url: string,
  token: string | undefined,
  iterations: number,
  concurrency: number,
  statements: string[],
  progress: boolean,
): Promise<LoadResult> {
  const endpoint = graphqlUrl(url);
  const headers = {
    'content-type': 'application/json',
    accept: 'application/graphql-response+json, application/json',
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  };
  const latencies: number[] = [];
  const durations: number[] = [];
  const routes: Record<string, number> = {};
  const targets: Record<string, number> = {};
  const errors: Record<string, number> = {};
  let queued = 0;
  let next = 0;
  let unauthorized: string | null = null;
  const barShown = progress && process.stderr.isTTY === true;
  const bar = new SingleBar({
    stream: process.stderr,
    format: 'load {bar} {value}/{total} | {rate}/s | {failed} failed | eta {eta_formatted}',
    hideCursor: true,
    clearOnComplete: true,
  });
  if (barShown) bar.start(iterations, 0, { rate: '0', failed: 0 });
  const started = performance.now();
  let succeeded = 0;
  let failed = 0;

  const worker = async () => {
    while (next < iterations && unauthorized === null) {
      const sql = statements[next % statements.length]!;
      next += 1;
      const t0 = performance.now();
      try {
        const res = await fetch(endpoint, {
          method: 'POST',
          headers,
          body: JSON.stringify({ query: EXECUTE, variables: { sql } }),
        });
        const body = (await res.json()) as {
          data?: { executeQuery: ExecuteView };
          errors?: { message: string; extensions?: { code?: string } }[];
        };
        latencies.push(performance.now() - t0);
        const error = body.errors?.[0];
        if (error) {
          const code = error.extensions?.code ?? 'ERROR';
          if (code === 'UNAUTHENTICATED' || code === 'FORBIDDEN') unauthorized = error.message;
          errors[code] = (errors[code] ?? 0) + 1;
          failed += 1;
        } else {
          const r = body.data!.executeQuery;
          succeeded += 1;
          durations.push(r.durationMs);
          routes[r.route] = (routes[r.route] ?? 0) + 1;
          targets[r.target] = (targets[r.target] ?? 0) + 1;
          if (r.queued) queued += 1;
        }
      } catch (error) {
        const code = causeOf(error);
        errors[code] = (errors[code] ?? 0) + 1;
        failed += 1;
      }
      if (barShown) {
        const done = succeeded + failed;
        bar.update(done, { rate: ((done / (performance.now() - started)) * 1000).toFixed(0), failed });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, iterations) }, worker));
  if (barShown) bar.stop();
  if (unauthorized !== null) throw new CliError(ExitCode.Unauthorized, unauthorized);
  const elapsedMs = performance.now() - started;
  return {
    iterations,
    concurrency,
    statements,
    succeeded,
    failed,
    elapsedMs,
    throughputPerSecond: (iterations / elapsedMs) * 1000,
    latencyMs: percentiles(latencies),
    serverDurationMs: percentiles(durations),
    routes,
    targets,
    queued,
    errors,
  };
}

export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { p50: 0, p95: 0, p99: 0, max: 0, mean: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  return {
    p50: at(50),
    p95: at(95),
    p99: at(99),
    max: sorted[sorted.length - 1]!,
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
  };
}

export function renderLoad(r: LoadResult): string {
  const share = (n: number) => `${n} (${((n / Math.max(1, r.succeeded)) * 100).toFixed(1)}%)`;
  return [
    paint(
      'bold',
      `${r.iterations} statements, ${r.concurrency} in parallel, in ${(r.elapsedMs / 1000).toFixed(2)} s`,
    ),
    `throughput ${r.throughputPerSecond.toFixed(1)} statements/s; ${r.succeeded} succeeded, ${r.failed} failed${r.queued ? `, ${r.queued} queued` : ''}`,
    '',
    table(
      ['latency', 'p50', 'p95', 'p99', 'max', 'mean'],
      [
        [
          'round trip',
          ms(r.latencyMs.p50),
          ms(r.latencyMs.p95),
          ms(r.latencyMs.p99),
          ms(r.latencyMs.max),
          ms(r.latencyMs.mean),
        ],
        [
          'on the server',
          ms(r.serverDurationMs.p50),
          ms(r.serverDurationMs.p95),
          ms(r.serverDurationMs.p99),
          ms(r.serverDurationMs.max),
          ms(r.serverDurationMs.mean),
        ],
      ],
    ),
    '',
    table(
      ['route', 'statements'],
      Object.entries(r.routes).map(([k, v]) => [k, share(v)]),
    ),
    table(
      ['target', 'statements'],
      Object.entries(r.targets).map(([k, v]) => [k, share(v)]),
    ),
    ...(r.failed ? ['', table(['error', 'count'], Object.entries(r.errors))] : []),
    '',
    paint('dim', `statements: ${r.statements.map((s) => truncate(s, 60)).join(' | ')}`),
  ].join('\n');
}
