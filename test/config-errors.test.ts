import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ConfigError, databaseTargets, describeConfig, loadConfig } from '../src/config/index.js';

/** Runs `npm start`'s entry point with `env` and nothing else configured. */
function start(env: Record<string, string>) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: result.status, stderr: result.stderr, stdout: result.stdout };
}

const BAD: [Record<string, string>, RegExp][] = [
  [{ DB_POOL_SIZE: 'lots' }, /DB_POOL_SIZE="lots" is not accepted: expected a whole number from 1 to 10000/],
  [{ DB_POOL_MIN: '-1' }, /DB_POOL_MIN="-1" is not accepted/],
  [
    { DB_POOL_MIN: '30', DB_POOL_SIZE: '20' },
    /DB_POOL_MIN=30 is not accepted: it must not exceed DB_POOL_SIZE \(20\)/,
  ],
  [{ DB_IDLE_TIMEOUT: '1.5' }, /DB_IDLE_TIMEOUT="1.5" is not accepted/],
  [{ DB_CONN_TIMEOUT: 'soon' }, /DB_CONN_TIMEOUT="soon" is not accepted/],
  [{ DB_STATEMENT_TIMEOUT: '0' }, /DB_STATEMENT_TIMEOUT="0" is not accepted/],
  [
    { DB_PORT: '70000', DB_HOST: 'db' },
    /DB_PORT="70000" is not accepted: expected a whole number from 1 to 65535/,
  ],
  [{ DATABASE_URL: 'mysql://u:hunter2@h/db' }, /DATABASE_URL="mysql:\/\/u:\*\*\*\*@h\/db" is not accepted/],
  [
    { DB_REPLICA_URLS: 'postgres://a:b@h/db,not a url' },
    /DB_REPLICA_URLS entry 2 \(not a url\) is not accepted/,
  ],
  [{ DB_REPLICA_MAX_LAG_MS: 'x' }, /DB_REPLICA_MAX_LAG_MS="x" is not accepted/],
  [{ COMPLEX_QUEUE_CONCURRENCY: '0' }, /COMPLEX_QUEUE_CONCURRENCY="0" is not accepted/],
  [{ COMPLEX_QUEUE_MAX: 'many' }, /COMPLEX_QUEUE_MAX="many" is not accepted/],
  [{ COMPLEX_QUEUE_TIMEOUT_MS: '-5' }, /COMPLEX_QUEUE_TIMEOUT_MS="-5" is not accepted/],
  [{ DB_SERVER_MEMORY_MB: '1' }, /DB_SERVER_MEMORY_MB="1" is not accepted/],
  [{ DB_SERVER_CPUS: 'two' }, /DB_SERVER_CPUS="two" is not accepted/],
  [{ PORT: 'http' }, /PORT="http" is not accepted/],
  [
    { REDIS_URL: 'http://u:hunter2@cache:6379' },
    /REDIS_URL="http:\/\/u:\*\*\*\*@cache:6379" is not accepted: expected redis:\/\//,
  ],
  [{ INSTANCE_NAME: 'a b' }, /INSTANCE_NAME="a b" is not accepted: expected 1 to 64 letters/],
  [{ HOST: '0.0.0.0' }, /HOST="0.0.0.0" is not accepted without API_TOKENS/],
  [
    { API_TOKENS: 'root:abcdefghijklmnopqrstu' },
    /API_TOKENS entry 1 is not accepted: role "root" must be one of viewer, operator, admin/,
  ],
  [
    { API_TOKENS: 'admin:short' },
    /API_TOKENS entry 1 \(admin\) is not accepted: the token must be at least 16 characters/,
  ],
  [{ CORS_ORIGINS: '*' }, /CORS_ORIGINS entry "\*" is not accepted: expected origins such as/],
  [
    { CORS_ORIGINS: 'https://ok.example,https://app.example/admin' },
    /CORS_ORIGINS entry "https:\/\/app.example\/admin" is not accepted/,
  ],
  [{ WS_MAX_SUBSCRIPTIONS: '0' }, /WS_MAX_SUBSCRIPTIONS="0" is not accepted: expected a whole number from 1/],
  [
    { ADMIN_DATABASE_URL: 'postgres://admin:s3cret@h/app' },
    /ADMIN_DATABASE_URL is not accepted without DATABASE_URL \(or DB_HOST\)/,
  ],
  [
    { DATABASE_URL: 'postgres://app:a@h/app', ADMIN_DATABASE_URL: 'http://admin:s3cret@h/app' },
    /ADMIN_DATABASE_URL="http:\/\/admin:\*\*\*\*@h\/app" is not accepted/,
  ],
  [
    { DATABASE_URL: 'postgres://app:a@h/app', ADMIN_DATABASE_URL: 'postgres://admin:s3cret@h/other' },
    /ADMIN_DATABASE_URL is not accepted: its database "other" must be the one DATABASE_URL names \("app"\)/,
  ],
  [{ ADMIN_POOL_SIZE: '0' }, /ADMIN_POOL_SIZE="0" is not accepted: expected a whole number from 1 to 100/],
  [
    { LOG_LEVEL: 'loud' },
    /LOG_LEVEL="loud" is not accepted: expected one of fatal, error, warn, info, debug, trace, silent/,
  ],
];

describe('configuration', () => {
  it.each(BAD)(
    'rejects %j with a message naming the variable, the value and what is accepted',
    (env, message) => {
      expect(() => loadConfig(env)).toThrow(ConfigError);
      expect(() => loadConfig(env)).toThrow(message);
    },
  );

  it('never echoes a secret in its messages', () => {
    const attempt = () =>
      loadConfig({ API_TOKENS: 'admin:tiny-secret', DATABASE_URL: 'ftp://u:hunter2@h/db' });
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (error) {
      expect((error as Error).message).not.toContain('tiny-secret');
      expect((error as Error).message).not.toContain('hunter2');
    }
  });

  it('reads the defaults of the guide', () => {
    const config = loadConfig({});
    expect(config.primary).toBeNull();
    expect(config.pool).toEqual({
      max: 20,
      min: 5,
      idleTimeoutMs: 30_000,
      connectionTimeoutMs: 10_000,
      statementTimeoutMs: 30_000,
    });
    expect(config.port).toBe(3338);
    expect(config.host).toBe('127.0.0.1');
    expect(Object.isFrozen(config.pool)).toBe(true);
  });

  it('builds the primary from DB_* and masks it in descriptions', () => {
    const config = loadConfig({
      DB_HOST: 'postgres',
      DB_NAME: 'readme_to_recover',
      DB_PASSWORD: 'p@ss:w/rd',
      DB_USER: 'app',
    });
    expect(config.primary?.endpoint).toEqual({
      host: 'postgres',
      port: 5432,
      database: 'readme_to_recover',
      user: 'app',
    });
    expect(new URL(config.primary!.connectionString).password).toBe(encodeURIComponent('p@ss:w/rd'));
    expect(JSON.stringify(describeConfig(config))).not.toContain('p@ss');
  });

  it('gives the control plane ADMIN_DATABASE_URL on the primary and its credentials on each replica', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://app:app-secret@db:5432/app',
      DB_REPLICA_URLS: 'postgres://app:app-secret@replica:5433/app?sslmode=require',
      ADMIN_DATABASE_URL: 'postgres://ops:ops-secret@db:5432/app',
    });
    const { primary, replicas } = databaseTargets(config);
    expect(primary!.data.endpoint.user).toBe('app');
    expect(primary!.admin.connectionString).toBe('postgres://ops:ops-secret@db:5432/app');
    const replica = new URL(replicas[0]!.admin.connectionString);
    expect([replica.username, replica.password, replica.host, replica.pathname, replica.search]).toEqual([
      'ops',
      'ops-secret',
      'replica:5433',
      '/app',
      '?sslmode=require',
    ]);
    expect(replicas[0]!.data.connectionString).toBe(
      'postgres://app:app-secret@replica:5433/app?sslmode=require',
    );
    expect(config.adminPool).toEqual({ max: 3, min: 0 });
    const described = JSON.stringify(describeConfig(config));
    expect(described).toContain('"admin":{"host":"db","port":5432,"database":"app","user":"ops"}');
    expect(described).not.toContain('ops-secret');
    // Unset: the control plane uses each data connection.
    const same = databaseTargets(loadConfig({ DATABASE_URL: 'postgres://app:a@db/app' }));
    expect(same.primary!.admin).toBe(same.primary!.data);
  });

  it('accepts non-loopback hosts once tokens are configured', () => {
    const config = loadConfig({
      HOST: '0.0.0.0',
      API_TOKENS: 'viewer:0123456789abcdef,admin:fedcba9876543210xx',
    });
    expect(config.tokens.map((t) => t.role)).toEqual(['viewer', 'admin']);
    expect(JSON.stringify(describeConfig(config))).not.toContain('0123456789abcdef');
  });

  it('stops npm start with the message and a non-zero exit', () => {
    const result = start({
      DB_POOL_SIZE: 'lots',
      CORS_ORIGINS: 'https://*.example.com',
      API_TOKENS: 'admin:not-long',
      DB_PASSWORD: 'do-not-print-me',
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('DB_POOL_SIZE="lots" is not accepted');
    expect(result.stderr).toContain('API_TOKENS entry 1 (admin) is not accepted');
    expect(result.stderr).toContain('CORS_ORIGINS entry "https://*.example.com" is not accepted');
    expect(result.stderr + result.stdout).not.toContain('not-long');
    expect(result.stderr + result.stdout).not.toContain('do-not-print-me');
  });
});
