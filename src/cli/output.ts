import { styleText } from 'node:util';
import Table from 'cli-table3';
import type { Connection } from './client.js';
import { CliError, ExitCode } from './exit-codes.js';

/** Options every command receives from the program. */
export interface GlobalOptions {
  url: string;
  token?: string;
  json?: boolean;
}

export function connection(options: GlobalOptions): Connection {
  return { url: options.url, token: options.token };
}

const colour = process.stdout.isTTY === true && !process.env.NO_COLOR;
type Style = Parameters<typeof styleText>[0];
export const paint = (style: Style, text: string) => (colour ? styleText(style, text) : text);

export function table(head: string[], rows: (string | number)[][]): string {
  const t = new Table({
    head: head.map((h) => paint('bold', h)),
    style: { head: [], border: [], compact: true },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  for (const row of rows) t.push(row.map(String));
  return t.toString();
}

export const ms = (value: number | null | undefined) =>
  value === null || value === undefined
    ? '-'
    : value >= 1000
      ? `${(value / 1000).toFixed(2)} s`
      : `${value.toFixed(1)} ms`;
export const pct = (value: number | null | undefined) =>
  value === null || value === undefined ? '-' : `${value.toFixed(1)}%`;
export const bytes = (value: number | null | undefined) => {
  if (value === null || value === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = value;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
};

/** A bar of `width` cells for 0..100, coloured by how full it is. */
export function bar(percent: number, width = 20): string {
  const filled = Math.round((Math.max(0, Math.min(100, percent)) / 100) * width);
  const text = '█'.repeat(filled) + '░'.repeat(width - filled);
  return paint(percent >= 90 ? 'red' : percent >= 70 ? 'yellow' : 'green', text);
}

export const statusText = (status: string) =>
  paint(status === 'OK' || status === 'UP' ? 'green' : status === 'DEGRADED' ? 'yellow' : 'red', status);

export function truncate(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Prints JSON (for scripts) or text (for people) and returns the exit code to use. */
export function emit(options: GlobalOptions, json: unknown, text: () => string): void {
  if (options.json) process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  else process.stdout.write(`${text()}\n`);
}

/** Runs a command body; failures print a message (and a JSON error with --json) and set the exit code. */
export function action<A extends unknown[]>(
  body: (...args: A) => Promise<ExitCode | undefined>,
): (...args: A) => Promise<void> {
  return async (...args) => {
    const options = (args.at(-1) as { optsWithGlobals(): GlobalOptions }).optsWithGlobals();
    try {
      process.exitCode = (await body(...args)) ?? ExitCode.Ok;
    } catch (error) {
      const e =
        error instanceof CliError
          ? error
          : new CliError(ExitCode.Failed, (error as Error).message ?? String(error));
      if (options.json) {
        process.stdout.write(
          `${JSON.stringify({ error: { message: e.message, code: e.code ?? null, exitCode: e.exitCode } }, null, 2)}\n`,
        );
      }
      process.stderr.write(`poolpilot: ${e.message}\n`);
      process.exitCode = e.exitCode;
    }
  };
}
