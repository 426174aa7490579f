import { existsSync } from 'node:fs';
import path from 'node:path';
import { bootTimeMs, listPids, namespacePids, readStat, startedAtMs } from './proc.js';

/** What PostgreSQL says about itself: the session's backend pid and when the postmaster started. */
export interface ServerIdentity {
  pid: number;
  startedMs: number;
}

// pg_postmaster_start_time() is taken a moment after the process starts.
const START_TOLERANCE_MS = 5_000;
const RETRY_AFTER_MS = 30_000;

/**
 * Finds the postmaster of the PostgreSQL server poolpilot talks to among this machine's
 * processes: the session's backend pid, looked up directly or (for a server in a container on
 * this host) through each process's namespace pids, then its parent, accepted only when the
 * parent's start time matches `pg_postmaster_start_time()`. A remote server is never mistaken
 * for an unrelated local process that happens to have the same pid.
 */
export class ServerProcessLocator {
  readonly #identify: () => Promise<ServerIdentity>;
  readonly #procRoot: string;
  #found: number | null = null;
  #failed: { reason: string; at: number } | null = null;

  constructor(identify: () => Promise<ServerIdentity>, procRoot = '/proc') {
    this.#identify = identify;
    this.#procRoot = procRoot;
  }

  /** The postmaster's pid here, or why it cannot be found (remembered for a while). */
  async locate(): Promise<number | string> {
    if (this.#found !== null) return this.#found;
    if (this.#failed && Date.now() - this.#failed.at < RETRY_AFTER_MS) return this.#failed.reason;
    const result = await this.#search().catch((error: Error) => `could not look for it: ${error.message}`);
    if (typeof result === 'number') this.#found = result;
    else this.#failed = { reason: result, at: Date.now() };
    return result;
  }

  /** Forgets the pid (the server restarted, the process is gone). */
  invalidate(): void {
    this.#found = null;
    this.#failed = null;
  }

  async #search(): Promise<number | string> {
    if (!existsSync(path.join(this.#procRoot, 'self'))) return `no ${this.#procRoot} on this system`;
    let identity: ServerIdentity;
    try {
      identity = await this.#identify();
    } catch (error) {
      return `could not ask PostgreSQL for its process id: ${(error as Error).message}`;
    }
    const bootMs = await bootTimeMs(this.#procRoot);
    for (const candidate of await this.#candidates(identity.pid)) {
      const backend = await readStat(this.#procRoot, candidate);
      if (backend?.comm !== 'postgres') continue;
      const parent = await readStat(this.#procRoot, backend.ppid);
      if (!parent) continue;
      if (Math.abs(startedAtMs(parent, bootMs) - identity.startedMs) <= START_TOLERANCE_MS) return parent.pid;
    }
    return `the PostgreSQL server (backend pid ${identity.pid}) is not a process visible on this machine`;
  }

  async #candidates(pid: number): Promise<number[]> {
    const direct = await namespacePids(this.#procRoot, pid);
    // Same namespace: the pid PostgreSQL reported is the pid here.
    if (direct && direct.length === 1) return [pid];
    const found: number[] = [];
    for (const local of await listPids(this.#procRoot)) {
      const ns = await namespacePids(this.#procRoot, local);
      if (ns && ns.length > 1 && ns[ns.length - 1] === pid) found.push(local);
    }
    return found;
  }
}
