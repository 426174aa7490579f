import { describe, expect, it } from 'vitest';
import { freePort } from '../src/embedded/index.js';
import { poolpilotCli } from './harness/cli.js';
import { useTestServer } from './harness/server.js';

const VIEWER = 'viewer-token-0123456789';

describe('poolpilot CLI exit codes', () => {
  const server = useTestServer({ DB_POOL_MIN: '1', API_TOKENS: `viewer:${VIEWER}` });

  it('prints help and the version with 0, and rejects bad arguments with 2', async () => {
    const help = await poolpilotCli(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['start', 'analyze', 'optimize', 'test', 'report', 'monitor'])
      expect(help.stdout).toContain(command);
    expect(help.stdout).toContain('POOLPILOT_URL');
    expect((await poolpilotCli(['--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect((await poolpilotCli(['analyze', '--no-such-option'])).code).toBe(2);
    expect((await poolpilotCli(['frobnicate'])).code).toBe(2);
    expect((await poolpilotCli(['test', '--iterations', '0'])).code).toBe(2);
    expect((await poolpilotCli(['report', '--format', 'pdf'])).code).toBe(2);
  });

  it('says the server is unreachable with 3, as JSON too', async () => {
    const port = await freePort();
    const run = await poolpilotCli(['analyze', '--json', '--url', `http://127.0.0.1:${port}`]);
    expect(run.code).toBe(3);
    expect(run.json().error).toMatchObject({ exitCode: 3 });
    expect(run.stderr).toContain(`cannot reach poolpilot at http://127.0.0.1:${port}`);
    // ...and how to point it elsewhere.
    expect(run.stderr).toContain('--url URL or POOLPILOT_URL=URL');
  });

  it('uses POOLPILOT_URL and POOLPILOT_TOKEN, and exits 4 without a valid token', async () => {
    const denied = await poolpilotCli(['analyze', '--json'], { POOLPILOT_URL: server.pp.url });
    expect(denied.code).toBe(4);
    expect(denied.json().error.code).toBe('UNAUTHENTICATED');
    const wrong = await poolpilotCli(['analyze', '--json', '--token', 'not-a-known-token-at-all'], {
      POOLPILOT_URL: server.pp.url,
    });
    expect(wrong.code).toBe(4);
    const allowed = await poolpilotCli(['analyze', '--json'], {
      POOLPILOT_URL: server.pp.url,
      POOLPILOT_TOKEN: VIEWER,
    });
    expect(allowed.code).toBe(0);
    expect(allowed.json().health.status).toBe('OK');
    // The token never appears in what the CLI prints.
    expect(allowed.stdout + allowed.stderr + denied.stderr).not.toContain(VIEWER);
  });

  it('exits 4 when the role is not allowed (viewer running executeQuery)', async () => {
    const run = await poolpilotCli(['test', '--json', '-n', '3', '--url', server.pp.url, '--token', VIEWER]);
    expect(run.code).toBe(4);
    expect(run.json().error.message).toBeTruthy();
  });
});
