import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { parseVerifier, verifierMap, WireListener } from '../src/wire/index.js';
import { run } from './harness/database.js';
import { AnswerHandler } from './support/wire.js';

const { primaryUrl } = inject('databases');

/** `npx poolpilot hash-password` with the password on standard input. */
function hashPassword(
  stdin: string,
  args: string[] = [],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/poolpilot.mjs', 'hash-password', ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

describe('poolpilot hash-password', () => {
  const role = `wire_${randomBytes(4).toString('hex')}`;
  const password = 'tr0ub4dor & 3 — ünïcode';
  let verifier: string;

  beforeAll(async () => {
    const r = await hashPassword(`${password}\n`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    verifier = r.stdout.trim();
  });
  afterAll(async () => {
    await run(primaryUrl, `DROP ROLE IF EXISTS ${role}`).catch(() => {});
  });

  it('prints a pg_authid verifier: 4096 iterations, a random 16-byte salt', async () => {
    const parsed = parseVerifier(verifier);
    expect(typeof parsed).toBe('object');
    expect(parsed).toMatchObject({ iterations: 4096 });
    expect((parsed as { salt: Buffer }).salt).toHaveLength(16);
    expect((await hashPassword(`${password}\n`)).stdout.trim()).not.toBe(verifier);
    const custom = await hashPassword(password, ['--iterations', '10000', '--user', 'app']);
    expect(custom.stdout).toMatch(/^app:SCRAM-SHA-256\$10000:/);
    expect(custom.stdout).not.toContain(password);
    expect((await hashPassword('\n')).code).toBe(2);
    expect((await hashPassword('x', ['--iterations', '0'])).code).toBe(2);
  });

  it('is accepted by PostgreSQL itself: ALTER ROLE ... PASSWORD with it, then log in with the password', async () => {
    await run(primaryUrl, `CREATE ROLE ${role} LOGIN PASSWORD '${verifier}'`);
    const { rows } = await run(primaryUrl, 'SELECT rolpassword FROM pg_authid WHERE rolname = $1', [role]);
    expect(rows[0].rolpassword).toBe(verifier); // stored as given, not re-hashed
    const url = new URL(primaryUrl);
    url.username = role;
    url.password = encodeURIComponent(password);
    url.pathname = '/postgres';
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      expect((await client.query('SELECT current_user AS u')).rows[0].u).toBe(role);
    } finally {
      await client.end();
    }
    url.password = 'wrong';
    const wrong = new pg.Client({ connectionString: url.toString() });
    await expect(wrong.connect()).rejects.toMatchObject({ code: '28P01' });
  });

  it('logs in to the wire front from WIRE_USERS', async () => {
    const config = loadConfig({ WIRE_USERS: `app:${verifier}` });
    const listener = new WireListener({
      database: 'appdb',
      users: verifierMap(config.wire.users),
      maxClients: 10,
      handler: new AnswerHandler(),
      parameters: () => ({ server_version: '16.4' }),
    });
    const { port } = await listener.listen(0, '127.0.0.1');
    try {
      const client = new pg.Client({ host: '127.0.0.1', port, user: 'app', password, database: 'appdb' });
      await client.connect();
      expect((await client.query('SELECT 1')).rows).toEqual([{ answer: 42 }]);
      await client.end();
    } finally {
      await listener.close();
    }
  });
});
