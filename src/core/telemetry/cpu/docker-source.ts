import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { availableParallelism } from 'node:os';
import { type CpuReading, type CpuSource, type CpuSourceProbe, nowNs } from './source.js';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

/** The parts of `GET /containers/{id}/stats` that the figures come from. */
interface DockerStats {
  cpu_stats?: {
    cpu_usage?: { total_usage?: number; percpu_usage?: number[] };
    system_cpu_usage?: number;
    online_cpus?: number;
  };
  memory_stats?: { usage?: number; stats?: Record<string, number> };
}

function getJson(
  socketPath: string,
  path: string,
  timeoutMs: number,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null });
        } catch {
          resolve({ status: res.statusCode ?? 0, body: text });
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () =>
      req.destroy(new Error(`no answer from the Docker engine within ${timeoutMs} ms`)),
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * Turns one stats document into a reading. Docker's CLI computes CPU % as
 * Δcontainer usage / Δsystem usage × online CPUs × 100; the sampler applies that formula to two
 * readings. Memory is usage minus inactive page cache, as `docker stats` shows it (cgroup v2
 * reports `inactive_file`, v1 `total_inactive_file`).
 */
export function readingFromDockerStats(stats: DockerStats, atNs = nowNs()): CpuReading {
  const cpu = stats.cpu_stats;
  const usage = cpu?.cpu_usage?.total_usage;
  const system = cpu?.system_cpu_usage;
  if (typeof usage !== 'number' || typeof system !== 'number') {
    throw new Error('the container reports no CPU usage (is it running?)');
  }
  const online = cpu?.online_cpus || cpu?.cpu_usage?.percpu_usage?.length || availableParallelism();
  const memory = stats.memory_stats;
  const inactive = memory?.stats?.inactive_file ?? memory?.stats?.total_inactive_file ?? 0;
  return {
    usageNs: usage,
    systemNs: system,
    onlineCpus: online,
    memoryBytes: typeof memory?.usage === 'number' ? Math.max(0, memory.usage - inactive) : null,
    atNs,
  };
}

export interface DockerSourceOptions {
  container: string | null;
  socketPath?: string;
  timeoutMs?: number;
}

/** The Docker Engine API over its unix socket, for the container named in DB_CONTAINER. */
export function dockerProbe(options: DockerSourceOptions): CpuSourceProbe {
  const socketPath = options.socketPath ?? DEFAULT_DOCKER_SOCKET;
  const timeoutMs = options.timeoutMs ?? 3_000;
  return async () => {
    const container = options.container;
    if (!container) return 'docker: DB_CONTAINER is not set';
    // one-shot: answer at once instead of waiting a second to fill precpu_stats; the sampler
    // keeps its own previous reading.
    const path = `/containers/${encodeURIComponent(container)}/stats?stream=false&one-shot=true`;
    if (!existsSync(socketPath)) return `docker: no Docker socket at ${socketPath}`;
    const read = async (): Promise<CpuReading> => {
      let answer: { status: number; body: unknown };
      try {
        answer = await getJson(socketPath, path, timeoutMs);
      } catch (error) {
        const e = error as NodeJS.ErrnoException;
        if (e.code === 'ENOENT') throw new Error(`no Docker socket at ${socketPath}`);
        if (e.code === 'EACCES') throw new Error(`no permission to use ${socketPath}`);
        throw error;
      }
      const { status, body } = answer;
      if (status === 404) throw new Error(`no container named ${JSON.stringify(container)}`);
      if (status !== 200) {
        const message = (body as { message?: string } | null)?.message ?? String(body);
        throw new Error(`Docker engine answered ${status}: ${message}`);
      }
      return readingFromDockerStats(body as DockerStats);
    };
    const source: CpuSource = { kind: 'docker', detail: container, read };
    return source;
  };
}
