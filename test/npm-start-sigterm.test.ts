import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../src/embedded/index.js';
import { eventually } from './harness/database.js';

/**
 * Process managers and `docker stop` signal the process they started, here `npm start`, and
 * nothing else: the signal must reach the service through npm and whatever npm runs.
 */

const GRACE_MS = 2_000;

function parentOf(pid: number): number | null {
  try {
    // The command name (field 2) may hold spaces and parentheses; fields after its last ")" do not.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/** `root` and every process descended from it, as /proc sees them now. */
function processTree(root: number): Set<number> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const parent = parentOf(Number(entry));
    if (parent !== null) children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
  }
  const tree = new Set<number>([root]);
  for (const pid of tree) for (const child of children.get(pid) ?? []) tree.add(child);
  return tree;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie has exited; only its parent has not collected it yet.
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

describe('signals to the npm start process', () => {
  let npm: ChildProcess | null = null;
  let seen = new Set<number>();
  let dataDir: string | null = null;

  // Whatever outlived a failed test is killed by the pids this test saw, so nothing is orphaned.
  afterEach(async () => {
    for (const pid of seen) if (alive(pid)) process.kill(pid, 'SIGKILL');
    if (npm && npm.exitCode === null) npm.kill('SIGKILL');
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /** `npm start` with an embedded database, listening; its process tree as it stands then. */
  async function npmStart(): Promise<{
    tree: Set<number>;
    output: () => string;
    exited: Promise<number | null>;
  }> {
    // A folder the embedded server's OS user can traverse; the data directory is made inside.
    dataDir = await mkdtemp(path.join(tmpdir(), 'pp-npm-start-'));
    await chmod(dataDir, 0o755);
    let out = '';
    // Its own process group, as a terminal gives a foreground job.
    const child = spawn('npm', ['start', '--silent'], {
      cwd: path.resolve(import.meta.dirname, '..'),
      detached: true,
      env: {
        WIRE_PORT: '0', // several services may run at once here
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_LEVEL: 'info',
        SHUTDOWN_GRACE_MS: String(GRACE_MS),
        EMBEDDED_PG_DATA: path.join(dataDir, 'data'),
        EMBEDDED_PG_PORT: String(await freePort()),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    npm = child;
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await eventually(() => out.includes('poolpilot listening'), 60_000, 100);
    const tree = processTree(child.pid!);
    seen = tree;
    const postgres = [...tree].filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]!.endsWith('/postgres');
      } catch {
        return false;
      }
    });
    // npm, the service and the postmaster at least; the postmaster's own workers too.
    expect(postgres.length).toBeGreaterThan(0);
    expect(tree.size).toBeGreaterThanOrEqual(3);
    return { tree, output: () => out, exited };
  }

  it('SIGTERM to npm stops poolpilot and its embedded PostgreSQL within the shutdown grace', async () => {
    const { tree, output, exited } = await npmStart();
    process.kill(npm!.pid!, 'SIGTERM');
    // Within the grace, plus the while closing pools and stopping PostgreSQL may take.
    await eventually(() => [...tree].every((pid) => !alive(pid)), GRACE_MS + 10_000, 50);
    expect(await exited).toBe(0);
    expect(output()).toContain('embedded PostgreSQL stopped');
  });

  it('Ctrl-C (SIGINT to the whole group, which npm forwards again) drains once, not as a second signal', async () => {
    const { tree, output, exited } = await npmStart();
    process.kill(-npm!.pid!, 'SIGINT');
    await eventually(() => [...tree].every((pid) => !alive(pid)), GRACE_MS + 10_000, 50);
    expect(await exited).toBe(0);
    expect(output()).not.toContain('second signal');
    expect(output()).toContain('embedded PostgreSQL stopped');
  });
});
