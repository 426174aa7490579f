import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { ServerProcessLocator } from './server-process.js';
import { type CpuReading, type CpuSource, type CpuSourceProbe, nowNs } from './source.js';

const keyed = (text: string): Map<string, number> =>
  new Map(
    text
      .trim()
      .split('\n')
      .map((line) => line.split(' '))
      .map(([k, v]) => [k!, Number(v)]),
  );

/** Cores the cgroup may use: its `cpu.max` quota, else every core of the host. */
async function cgroupCores(dir: string): Promise<number> {
  try {
    const [quota, period] = (await readFile(path.join(dir, 'cpu.max'), 'utf8')).trim().split(' ');
    if (quota !== 'max' && Number(period) > 0) return Number(quota) / Number(period);
  } catch {
    // no cpu controller file: no limit
  }
  return availableParallelism();
}

export async function readCgroup(dir: string): Promise<CpuReading> {
  const cpu = keyed(await readFile(path.join(dir, 'cpu.stat'), 'utf8'));
  const usageUsec = cpu.get('usage_usec');
  if (usageUsec === undefined) throw new Error(`no usage_usec in ${dir}/cpu.stat`);
  let memoryBytes: number | null = null;
  try {
    const current = Number(await readFile(path.join(dir, 'memory.current'), 'utf8'));
    const inactive = keyed(await readFile(path.join(dir, 'memory.stat'), 'utf8')).get('inactive_file') ?? 0;
    memoryBytes = Math.max(0, current - inactive);
  } catch {
    // memory controller not enabled for this cgroup
  }
  return {
    usageNs: usageUsec * 1000,
    systemNs: null,
    onlineCpus: await cgroupCores(dir),
    memoryBytes,
    atNs: nowNs(),
  };
}

/** Where the v2 hierarchy is mounted: the root itself, or `unified/` on a hybrid v1+v2 host. */
function unifiedRoot(cgroupRoot: string): string {
  if (existsSync(path.join(cgroupRoot, 'cgroup.controllers'))) return cgroupRoot;
  const hybrid = path.join(cgroupRoot, 'unified');
  return existsSync(path.join(hybrid, 'cgroup.controllers')) ? hybrid : cgroupRoot;
}

/**
 * The cgroup v2 the postmaster runs in (a systemd unit, a container): everything in it counts,
 * which is what a CPU limit applies to.
 */
export function cgroupProbe(
  locator: ServerProcessLocator,
  procRoot = '/proc',
  cgroupRoot = '/sys/fs/cgroup',
): CpuSourceProbe {
  return async () => {
    const pid = await locator.locate();
    if (typeof pid === 'string') return `cgroup: ${pid}`;
    let dir: string;
    try {
      const membership = await readFile(path.join(procRoot, String(pid), 'cgroup'), 'utf8');
      const unified = /^0::(.*)$/m.exec(membership);
      if (!unified) return 'cgroup: the server is not in a cgroup v2 hierarchy';
      dir = path.join(unifiedRoot(cgroupRoot), unified[1]!.trim());
      if (!existsSync(path.join(dir, 'cpu.stat'))) return `cgroup: no cpu.stat in ${dir}`;
    } catch (error) {
      return `cgroup: ${(error as Error).message}`;
    }
    const source: CpuSource = { kind: 'cgroup', detail: dir, read: () => readCgroup(dir) };
    return source;
  };
}
