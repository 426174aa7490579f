import type { Command } from 'commander';
import type { ApplyResultView, OptimizationView } from '../api-types.js';
import { type Connection, leafSelection, request, requireFields, rootFields } from '../client.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { action, connection, emit, type GlobalOptions, paint, table, truncate } from '../output.js';

/**
 * `poolpilot optimize`: lists the current suggestions; `--apply ID` applies one,
 * `--apply-all-safe` applies every low-risk one that needs no restart; `--dry-run` shows what
 * would be done without doing it.
 */
export function registerOptimize(program: Command): void {
  program
    .command('optimize')
    .description('list optimization suggestions, or apply them (--apply ID | --apply-all-safe) [--dry-run]')
    .option('--apply <id>', 'apply the suggestion with this id')
    .option('--apply-all-safe', 'apply every LOW-risk suggestion that needs no restart')
    .option('--dry-run', 'show what applying would do, change nothing')
    .action(
      action(
        async (options: { apply?: string; applyAllSafe?: boolean; dryRun?: boolean }, command: Command) => {
          const global = command.optsWithGlobals<GlobalOptions>();
          const conn = connection(global);
          if (options.apply && options.applyAllSafe)
            throw new CliError(ExitCode.Usage, '--apply and --apply-all-safe are alternatives: give one');
          const fields = await rootFields(conn);
          const applying = Boolean(options.apply || options.applyAllSafe);
          requireFields(
            fields,
            { query: ['optimizations'], ...(applying ? { mutation: ['applyOptimization'] } : {}) },
            'optimize',
          );
          const list = await listOptimizations(conn);
          if (!applying) {
            emit(global, list, () => renderList(list));
            return ExitCode.Ok;
          }
          const chosen = options.apply ? [options.apply] : list.filter(isSafe).map((o) => String(o.id));
          const results: ApplyResultView[] = [];
          for (const id of chosen) results.push(await apply(conn, id, options.dryRun === true));
          emit(global, { dryRun: options.dryRun === true, results }, () =>
            renderResults(results, options.dryRun === true),
          );
          return results.some(failed) ? ExitCode.Problem : ExitCode.Ok;
        },
      ),
    );
}

/** An attempt that went wrong: the outcome FAILED (older servers: ok false). */
const failed = (r: ApplyResultView) => r.outcome === 'FAILED' || r.ok === false;

export const isSafe = (o: OptimizationView) =>
  o.risk === 'LOW' && o.applicable !== false && o.requiresRestart !== true;

async function listOptimizations(conn: Connection): Promise<OptimizationView[]> {
  const selection =
    (await leafSelection(conn, 'queryType', 'optimizations')) ?? '{ id kind title rationale risk }';
  return (await request<{ optimizations: OptimizationView[] }>(conn, `{ optimizations ${selection} }`))
    .optimizations;
}

async function apply(conn: Connection, id: string, dryRun: boolean): Promise<ApplyResultView> {
  const selection = (await leafSelection(conn, 'mutationType', 'applyOptimization')) ?? '{ __typename }';
  const data = await request<{ applyOptimization: Omit<ApplyResultView, 'id'> }>(
    conn,
    `mutation($id: ID!, $dryRun: Boolean) { applyOptimization(id: $id, dryRun: $dryRun) ${selection} }`,
    { id, dryRun },
  );
  return { id, ...data.applyOptimization };
}

function renderList(list: OptimizationView[]): string {
  if (list.length === 0) return 'no suggestions: nothing to optimize right now';
  const rows = list.map((o) => [
    o.id,
    o.kind,
    o.risk,
    isSafe(o) ? 'yes' : 'no',
    truncate(String(o.title ?? ''), 70),
  ]);
  return [
    table(['id', 'kind', 'risk', 'safe', 'title'], rows),
    '',
    ...list.map((o) => `${paint('bold', String(o.id))}: ${o.rationale ?? ''}`),
    '',
    paint('dim', 'apply one with: poolpilot optimize --apply ID [--dry-run]'),
  ].join('\n');
}

function renderResults(results: ApplyResultView[], dryRun: boolean): string {
  if (results.length === 0) return 'no safe suggestions to apply';
  const shown = ['outcome', 'message', 'statements', 'executed', 'before', 'after', 'error'];
  return results
    .map((r) => {
      const outcome = String(r.outcome ?? (dryRun ? 'DRY_RUN' : 'APPLIED'));
      const colour = failed(r) ? 'red' : outcome === 'APPLIED' ? 'green' : 'yellow';
      const head = `${paint('bold', `${r.id}`)} ${paint(colour, outcome.toLowerCase().replace(/_/g, ' '))}${r.title ? `: ${r.title}` : ''}`;
      const details = shown
        .filter(
          (k) =>
            r[k] !== undefined && r[k] !== null && !(Array.isArray(r[k]) && (r[k] as unknown[]).length === 0),
        )
        .filter((k) => k !== 'outcome')
        .map((k) => `  ${k}: ${typeof r[k] === 'string' ? r[k] : JSON.stringify(r[k])}`);
      return [head, ...details].join('\n');
    })
    .join('\n\n');
}
