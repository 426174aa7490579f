import { writeFile } from 'node:fs/promises';
import path from 'node:path';
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
    .description(
      'list optimization suggestions, show one (--show ID [--output FILE]), or apply them (--apply ID | --apply-all-safe) [--dry-run]',
    )
    .option('--apply <id>', 'apply the suggestion with this id')
    .option('--apply-all-safe', 'apply every LOW-risk suggestion that needs no restart')
    .option('--dry-run', 'show what applying would do, change nothing')
    .option(
      '--show <id>',
      'print one suggestion in full, with its statements and generated file (pgbouncer.ini)',
    )
    .option('--output <file>', 'with --show: write its generated file (or its statements) to FILE')
    .action(
      action(
        async (
          options: {
            apply?: string;
            applyAllSafe?: boolean;
            dryRun?: boolean;
            show?: string;
            output?: string;
          },
          command: Command,
        ) => {
          const global = command.optsWithGlobals<GlobalOptions>();
          const conn = connection(global);
          if (options.apply && options.applyAllSafe)
            throw new CliError(ExitCode.Usage, '--apply and --apply-all-safe are alternatives: give one');
          if (options.show && (options.apply || options.applyAllSafe))
            throw new CliError(
              ExitCode.Usage,
              '--show only shows: give it without --apply or --apply-all-safe',
            );
          if (options.output && !options.show)
            throw new CliError(ExitCode.Usage, '--output writes what --show shows: give --show ID too');
          const fields = await rootFields(conn);
          const applying = Boolean(options.apply || options.applyAllSafe);
          requireFields(
            fields,
            { query: ['optimizations'], ...(applying ? { mutation: ['applyOptimization'] } : {}) },
            'optimize',
          );
          const list = await listOptimizations(conn);
          if (options.show) return show(global, list, options.show, options.output);
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
    paint('dim', 'see one in full with: poolpilot optimize --show ID [--output FILE]'),
    paint('dim', 'apply one with: poolpilot optimize --apply ID [--dry-run]'),
  ].join('\n');
}

/** One suggestion in full; its file (pgbouncer.ini) printed as is, or written to `output`. */
async function show(
  global: GlobalOptions,
  list: OptimizationView[],
  id: string,
  output: string | undefined,
): Promise<ExitCode> {
  const o = list.find((candidate) => String(candidate.id) === id);
  if (!o) {
    const known = list.map((c) => c.id).join(', ') || 'none';
    throw new CliError(
      ExitCode.Failed,
      `no current suggestion has the id ${id} (current: ${known})`,
      'OPTIMIZATION_NOT_FOUND',
    );
  }
  const statements = Array.isArray(o.statements) ? (o.statements as string[]) : [];
  const artifact = typeof o.artifact === 'string' ? o.artifact : null;
  if (output) {
    const content = artifact ?? (statements.length > 0 ? `${statements.join(';\n')};\n` : null);
    if (content === null)
      throw new CliError(ExitCode.Usage, `${id} has no generated file and no statements to write`);
    await writeFile(output, content.endsWith('\n') ? content : `${content}\n`);
    const written = { id, file: path.resolve(output), bytes: Buffer.byteLength(content) };
    emit(global, written, () => `wrote ${written.bytes} bytes (${o.title}) to ${written.file}`);
    return ExitCode.Ok;
  }
  emit(global, o, () =>
    [
      `${paint('bold', String(o.title))}`,
      `id ${o.id} · ${o.kind} · risk ${o.risk}${isSafe(o) ? ' · safe' : ''}`,
      '',
      String(o.rationale ?? ''),
      ...(o.action ? ['', `action: ${String(o.action)}`] : []),
      ...(statements.length > 0 ? ['', 'statements:', ...statements.map((st) => `  ${st};`)] : []),
      ...(artifact
        ? ['', paint('dim', `--- generated file (save it with --output FILE) ---`), artifact]
        : []),
    ].join('\n'),
  );
  return ExitCode.Ok;
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
