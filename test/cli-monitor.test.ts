import { spawn } from 'node:child_process';
import { describe, expect, inject, it } from 'vitest';
import { poolpilotCli } from './harness/cli.js';
import { eventually } from './harness/database.js';
import { startPoolpilot, useTestServer } from './harness/server.js';

const { primaryUrl, replicaUrl } = inject('databases');

/**
 * `monitor` in a real pseudo-terminal: util-linux `script` gives the CLI a TTY (raw keys, the
 * alternate screen) and forwards what the test writes to its stdin as key presses.
 */
function inTerminal(command: string) {
  const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm-256color', NO_COLOR: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let screen = '';
  child.stdout.on('data', (d) => (screen += d));
  child.stderr.on('data', (d) => (screen += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, screen: () => screen, exited };
}

const frames = (screen: string) => screen.split('poolpilot monitor').length - 1;

describe('poolpilot monitor', () => {
  const server = useTestServer({ DB_POOL_MIN: '1', DB_POOL_SIZE: '5' }, { replica: true });

  for (const key of [
    { name: 'q', bytes: 'q' },
    { name: 'Ctrl-C', bytes: '\u0003' },
  ]) {
    it(`refreshes from the subscriptions in a terminal and quits cleanly on ${key.name}`, async () => {
      const term = inTerminal(`node bin/poolpilot.mjs monitor --interval 0.5 --url ${server.pp.url}`);
      try {
        await eventually(() => frames(term.screen()) >= 1, 30_000, 100);
        // Three sleeping statements on a pool of five, while it watches: a refresh shows them.
        const busy = Promise.all(
          Array.from({ length: 3 }, () =>
            server.pp.poolpilot.cluster.primary.pool.query('SELECT pg_sleep(3)'),
          ),
        );
        await eventually(() => /│ primary +│ yes +│ [█░]+ +60\.0% +│ 3 /.test(term.screen()), 30_000, 100);
        await busy;
        await eventually(() => frames(term.screen()) >= 3, 30_000, 100);
        const screen = term.screen();
        expect(screen).toContain('\x1b[?1049h'); // the alternate screen, so the shell's scrollback survives
        expect(screen).toMatch(/│ primary +│ yes/);
        if (replicaUrl) expect(screen).toMatch(/│ replica-1 +│ yes/);
        expect(screen).toMatch(/│ total +│/);
        expect(screen).toMatch(/host load +[\d.]+ [\d.]+ [\d.]+/);
        expect(screen).toMatch(/disk \/ .* free of/);
        expect(screen).toMatch(/connections on primary: \d+ total/);
        term.child.stdin.write(key.bytes);
        expect(await term.exited).toBe(0);
        // Cursor shown again and the shell's screen restored, as the last thing written.
        expect(term.screen().trimEnd().endsWith('\x1b[?25h\x1b[?1049l')).toBe(true);
      } finally {
        term.child.kill('SIGKILL');
      }
    });
  }

  it('writes one JSON object per refresh with --json --count', async () => {
    const run = await poolpilotCli([
      'monitor',
      '--json',
      '--count',
      '2',
      '--interval',
      '0.5',
      '--url',
      server.pp.url,
    ]);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines.map((l) => l.refresh)).toEqual([1, 2]);
    expect(lines[1].pool.targets[0]).toMatchObject({ name: 'primary', up: true, max: 5 });
    expect(lines[1].cpu.hostCores).toBeGreaterThanOrEqual(1);
    expect(lines[1].connections.target).toBe('primary');
  });

  it('exits 3 when the server goes away', async () => {
    const other = await startPoolpilot({ DATABASE_URL: server.db.url(primaryUrl), DB_POOL_MIN: '0' });
    const term = inTerminal(`node bin/poolpilot.mjs monitor --interval 0.5 --url ${other.url}`);
    try {
      await eventually(() => frames(term.screen()) >= 1, 30_000, 100);
      await other.close();
      expect(await term.exited).toBe(3);
      expect(term.screen()).toMatch(/the server closed the connection \(1001/);
    } finally {
      term.child.kill('SIGKILL');
      await other.close().catch(() => undefined);
    }
  });
});
