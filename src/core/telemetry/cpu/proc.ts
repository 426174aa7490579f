import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/** Reading Linux's /proc: process CPU times, parents, start times and memory. */

function getconf(name: string, fallback: number): number {
  try {
    const value = Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim());
    return Number.isFinite(value) && value > 0 ? value : fallback;
  } catch {
    return fallback;
  }
}

let clockTicks: number | null = null;
let pageSize: number | null = null;
const ticksPerSecond = () => (clockTicks ??= getconf('CLK_TCK', 100));
const bytesPerPage = () => (pageSize ??= getconf('PAGESIZE', 4096));

export interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  /** utime + stime + cutime + cstime: the process's own CPU time and that of children it reaped. */
  cpuNs: number;
  /** Clock ticks after boot when the process started. */
  startTicks: number;
}

/** Parses `/proc/<pid>/stat`; the command name may contain spaces and parentheses. */
export function parseStat(pid: number, text: string): ProcStat {
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  // Fields after the command, numbered from 3 as in proc(5).
  const f = text.slice(close + 2).split(' ');
  const field = (n: number) => Number(f[n - 3]);
  const ticks = field(14) + field(15) + field(16) + field(17);
  return { pid, comm, ppid: field(4), cpuNs: (ticks * 1e9) / ticksPerSecond(), startTicks: field(22) };
}

export async function readStat(procRoot: string, pid: number): Promise<ProcStat | null> {
  try {
    return parseStat(pid, await readFile(path.join(procRoot, String(pid), 'stat'), 'utf8'));
  } catch {
    return null;
  }
}

export async function listPids(procRoot: string): Promise<number[]> {
  const entries = await readdir(procRoot);
  return entries.filter((e) => /^\d+$/.test(e)).map(Number);
}

/** The pid as seen from each pid namespace, outermost first (`NSpid` in status). */
export async function namespacePids(procRoot: string, pid: number): Promise<number[] | null> {
  try {
    const status = await readFile(path.join(procRoot, String(pid), 'status'), 'utf8');
    const line = /^NSpid:\s*(.*)$/m.exec(status);
    return line ? line[1]!.trim().split(/\s+/).map(Number) : [pid];
  } catch {
    return null;
  }
}

/** Boot time in epoch milliseconds, to turn start ticks into wall-clock time. */
export async function bootTimeMs(procRoot: string): Promise<number> {
  const stat = await readFile(path.join(procRoot, 'stat'), 'utf8');
  const btime = /^btime\s+(\d+)/m.exec(stat);
  if (!btime) throw new Error(`no btime in ${procRoot}/stat`);
  return Number(btime[1]) * 1000;
}

export function startedAtMs(stat: ProcStat, bootMs: number): number {
  return bootMs + (stat.startTicks * 1000) / ticksPerSecond();
}

export interface TreeUsage {
  cpuNs: number;
  memoryBytes: number | null;
  processes: number;
}

/**
 * CPU time of a process and all its descendants. A backend that exits takes its CPU time with
 * it, except that the postmaster reaps it and the kernel adds it to the postmaster's cutime, so
 * the sum keeps growing monotonically across connections coming and going.
 */
export async function treeUsage(procRoot: string, root: number): Promise<TreeUsage> {
  const stats = (await Promise.all((await listPids(procRoot)).map((pid) => readStat(procRoot, pid)))).filter(
    (s): s is ProcStat => s !== null,
  );
  const children = new Map<number, ProcStat[]>();
  let rootStat: ProcStat | undefined;
  for (const s of stats) {
    if (s.pid === root) rootStat = s;
    const list = children.get(s.ppid);
    if (list) list.push(s);
    else children.set(s.ppid, [s]);
  }
  if (!rootStat) throw new Error(`process ${root} is gone`);
  const tree: ProcStat[] = [];
  const todo = [rootStat];
  while (todo.length > 0) {
    const s = todo.pop()!;
    tree.push(s);
    todo.push(...(children.get(s.pid) ?? []));
  }
  return {
    cpuNs: tree.reduce((sum, s) => sum + s.cpuNs, 0),
    memoryBytes: await treeMemory(procRoot, tree),
    processes: tree.length,
  };
}

/**
 * Private memory of every process plus shared memory once: each backend maps shared_buffers, so
 * summing resident sizes would count it once per connection.
 */
async function treeMemory(procRoot: string, tree: ProcStat[]): Promise<number | null> {
  let privatePages = 0;
  let sharedPages = 0;
  let seen = 0;
  for (const s of tree) {
    try {
      const [, resident, shared] = (await readFile(path.join(procRoot, String(s.pid), 'statm'), 'utf8'))
        .trim()
        .split(' ')
        .map(Number);
      privatePages += Math.max(0, resident! - shared!);
      sharedPages = Math.max(sharedPages, shared!);
      seen += 1;
    } catch {
      // exited between listing and reading
    }
  }
  return seen === 0 ? null : (privatePages + sharedPages) * bytesPerPage();
}
