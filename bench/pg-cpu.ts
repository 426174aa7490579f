import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time of a PostgreSQL server from /proc: the postmaster's own time, the time of its exited
 * children (backends that ended are added to its cutime/cstime when it reaps them), and the
 * time of its children still running. Differences of two readings give the server's CPU for an
 * interval, connection set-up and tear-down included.
 */
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

interface Stat {
  ppid: number;
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
}

function stat(pid: number): Stat | null {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may contain spaces: fields start after the last ')'.
    const fields = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    return {
      ppid: Number(fields[1]),
      utime: Number(fields[11]),
      stime: Number(fields[12]),
      cutime: Number(fields[13]),
      cstime: Number(fields[14]),
    };
  } catch {
    return null;
  }
}

/** Seconds of CPU the server at `postmasterPid` has used so far (all its processes). */
export function serverCpuSeconds(postmasterPid: number): number {
  const root = stat(postmasterPid);
  if (!root) throw new Error(`no process ${postmasterPid}`);
  let ticks = root.utime + root.stime + root.cutime + root.cstime;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const child = stat(Number(entry));
    if (child && child.ppid === postmasterPid) ticks += child.utime + child.stime;
  }
  return ticks / TICKS_PER_SECOND;
}

export function cpuAvailable(): boolean {
  return stat(process.pid) !== null;
}
