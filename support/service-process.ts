import { type ChildProcess, type StdioOptions, spawn } from 'node:child_process';

/** The checkout's root, where `npm start` runs. */
export const ROOT = new URL('..', import.meta.url).pathname;

/** The service's entry point, run from source through the tsx loader exactly as `npm start` runs it. */
export const SERVICE_ENTRY = 'src/main.ts';

export interface ServiceProcessOptions {
  /** Node flags before the loader (`--cpu-prof`, `--inspect=…`). */
  nodeFlags?: string[];
  stdio?: StdioOptions;
}

/** poolpilot in a process of its own, configured by `env` on top of this process's environment. */
export function spawnService(
  env: Record<string, string | undefined>,
  { nodeFlags = [], stdio = ['ignore', 'inherit', 'inherit'] }: ServiceProcessOptions = {},
): ChildProcess {
  return spawn(process.execPath, [...nodeFlags, '--import', 'tsx', SERVICE_ENTRY], {
    cwd: ROOT,
    env: { ...process.env, WIRE_PORT: '0', ...env },
    stdio,
  });
}

/** Resolves once `${url}/health` answers 200; throws when the process exits or `timeoutMs` passes. */
export async function waitHealthy(child: ChildProcess, url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`poolpilot exited with code ${child.exitCode}`);
    const ok = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`poolpilot did not become healthy within ${timeoutMs / 1000} s`);
}

/** SIGTERM (a graceful drain), then waits for the process to exit. */
export async function stopService(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}
