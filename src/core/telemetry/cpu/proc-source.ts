import { availableParallelism } from 'node:os';
import { treeUsage } from './proc.js';
import type { ServerProcessLocator } from './server-process.js';
import { type CpuSource, type CpuSourceProbe, nowNs } from './source.js';

/** The postmaster and every process under it, from /proc: the embedded server's source. */
export function procProbe(locator: ServerProcessLocator, procRoot = '/proc'): CpuSourceProbe {
  return async () => {
    const pid = await locator.locate();
    if (typeof pid === 'string') return `proc: ${pid}`;
    const cores = availableParallelism();
    const source: CpuSource = {
      kind: 'proc',
      detail: `postmaster pid ${pid}`,
      read: async () => {
        try {
          const usage = await treeUsage(procRoot, pid);
          return {
            usageNs: usage.cpuNs,
            systemNs: null,
            onlineCpus: cores,
            memoryBytes: usage.memoryBytes,
            atNs: nowNs(),
          };
        } catch (error) {
          locator.invalidate();
          throw error;
        }
      },
    };
    return source;
  };
}
