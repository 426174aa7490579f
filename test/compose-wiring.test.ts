import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../src/config/index.js';
import { createVerifier, formatVerifier } from '../src/wire/scram-verifier.js';

/**
 * No Docker engine runs the stack here, so the wiring is checked statically: services, their
 * dependencies and health checks, and that every variable handed to poolpilot is one the config
 * module reads and accepts.
 */

const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as Record<string, any>;
const dockerfile = readFileSync('Dockerfile', 'utf8');
const services = compose.services as Record<string, any>;

/** The variable names loadConfig reads, found by handing it an env that records every lookup. */
function namesReadByConfig(): Set<string> {
  const read = new Set<string>();
  const recorder = (values: Record<string, string>) =>
    new Proxy(values, {
      get(target, name) {
        if (typeof name === 'string') read.add(name);
        return target[name as string];
      },
    });
  loadConfig(recorder({}));
  // The DB_* parts are read only when DB_HOST is set.
  loadConfig(recorder({ DB_HOST: 'db' }));
  return read;
}

/** Compose's `${VAR:-default}` / `${VAR:?message}` / `${VAR}` with `given` as the shell's variables. */
function interpolate(value: string, given: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?::?([-?])([^}]*))?\}/g, (_, name: string, op?: string, arg?: string) => {
    if (given[name]) return given[name]!;
    if (op === '?') throw new Error(`${name} is required: ${arg}`);
    return op === '-' ? (arg ?? '') : '';
  });
}

describe('docker-compose.yml', () => {
  it('runs a postgres:16 primary with pg_stat_statements and a streaming replica of it', () => {
    const primary = services['postgres-primary'];
    const replica = services['postgres-replica'];
    expect(primary.image).toBe('postgres:16');
    expect(primary.command.join(' ')).toContain('shared_preload_libraries=pg_stat_statements');
    expect(primary.command.join(' ')).toContain('wal_level=replica');
    expect(compose.configs['primary-init'].content).toMatch(/CREATE ROLE replicator WITH REPLICATION/);
    expect(compose.configs['primary-init'].content).toMatch(/host replication replicator/);
    expect(replica.image).toBe('postgres:16');
    const entrypoint = compose.configs['replica-entrypoint'].content as string;
    expect(entrypoint).toMatch(/pg_basebackup[\s\S]*--write-recovery-conf/);
    expect(entrypoint).toContain('--host="$$PRIMARY_HOST"');
    expect(replica.environment.PRIMARY_HOST).toBe('postgres-primary');
    expect(replica.configs[0].target).toBe(replica.entrypoint.at(-1));
    expect(replica.depends_on['postgres-primary'].condition).toBe('service_healthy');
    for (const name of ['postgres-primary', 'postgres-replica'])
      expect(services[name].healthcheck.test.join(' ')).toContain('pg_isready');
  });

  it('builds poolpilot from the Dockerfile, publishes 3338 and checks /health', () => {
    const poolpilot = services.poolpilot;
    expect(poolpilot.build).toMatchObject({ context: '.', dockerfile: 'Dockerfile' });
    expect(poolpilot.ports).toContain('3338:3338');
    expect(poolpilot.healthcheck.test.join(' ')).toContain('http://127.0.0.1:3338/health');
    expect(poolpilot.depends_on).toEqual({
      'postgres-primary': { condition: 'service_healthy' },
      'postgres-replica': { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
    });
    // Longer than the drain, so SIGKILL never cuts a query short.
    const graceSeconds = Number(String(poolpilot.stop_grace_period).replace(/s$/, ''));
    expect(graceSeconds * 1000).toBeGreaterThan(loadConfig({}).shutdownGraceMs);
  });

  it('hands poolpilot only variables the config module reads, and they load', () => {
    const env = services.poolpilot.environment as Record<string, string>;
    const known = namesReadByConfig();
    const unknown = Object.keys(env).filter((name) => !known.has(name));
    expect(unknown).toEqual([]);
    for (const name of [
      'DB_HOST',
      'DB_PASSWORD',
      'DB_REPLICA_URLS',
      'HOST',
      'PORT',
      'API_TOKENS',
      'LOG_LEVEL',
    ])
      expect(Object.keys(env)).toContain(name);

    const given = {
      POSTGRES_PASSWORD: 'c0ffee',
      APP_DB_PASSWORD: 'tea',
      REPLICATION_PASSWORD: 'decaf',
      API_TOKENS: 'admin:0123456789abcdef0123',
      WIRE_USERS: `app:${formatVerifier(createVerifier('tea'))}`,
    };
    const resolved = Object.fromEntries(
      Object.entries(env).map(([k, v]) => [k, interpolate(String(v), given)]),
    );
    const config = loadConfig(resolved);
    expect(config.primary?.endpoint).toEqual({
      host: 'postgres-primary',
      port: 5432,
      database: 'app',
      user: 'app',
    });
    // The control plane connects as the superuser, callers as `app`, on the primary and the replica.
    expect(config.admin?.endpoint).toMatchObject({ host: 'postgres-primary', user: 'poolpilot' });
    expect(config.replicas.map((r) => r.endpoint.host)).toEqual(['postgres-replica']);
    expect(config.replicas.map((r) => r.endpoint.user)).toEqual(['app']);
    expect(compose.configs['primary-init'].content).toMatch(/CREATE ROLE app WITH LOGIN NOSUPERUSER/);
    expect(compose.configs['primary-init'].content).toMatch(/ALTER DATABASE app OWNER TO app/);
    expect(config).toMatchObject({ host: '0.0.0.0', port: 3338, logLevel: 'info' });
    expect(config.tokens).toHaveLength(1);
    // The wire front is published beyond loopback, so compose requires its SCRAM users.
    expect(config.wire).toMatchObject({ port: 6432, host: '0.0.0.0' });
    expect(config.wire.users.map((u) => u.name)).toEqual(['app']);
    expect(compose.services.poolpilot.ports).toContain('6432:6432');
    expect(() => interpolate(env.WIRE_USERS!, { ...given, WIRE_USERS: '' })).toThrow(
      /WIRE_USERS is required/,
    );
    // Listening on 0.0.0.0 is refused without tokens, and compose refuses to start without them.
    expect(() => interpolate(env.API_TOKENS!, { ...given, API_TOKENS: '' })).toThrow(
      /API_TOKENS is required/,
    );
    expect(() => loadConfig({ ...resolved, API_TOKENS: '' })).toThrow(
      /HOST="0.0.0.0" is not accepted without API_TOKENS/,
    );
  });
});

describe('docker-compose.yml: two instances as one over Redis', () => {
  it('runs Redis without persistence, checked with redis-cli ping', () => {
    const redis = services.redis;
    expect(redis.image).toMatch(/^redis:7/);
    expect(redis.command).toEqual(['redis-server', '--save', '', '--appendonly', 'no']);
    expect(redis.healthcheck.test).toEqual(['CMD', 'redis-cli', 'ping']);
  });

  it('runs a second poolpilot from the same image and environment, on its own ports and hostname', () => {
    const a = services.poolpilot;
    const b = services['poolpilot-b'];
    expect(b.image).toBe(a.image);
    expect(b.build).toBeUndefined();
    expect(b.environment).toEqual(a.environment);
    expect(b.hostname).not.toBe(a.hostname);
    expect(b.ports).toEqual(['3339:3338', '6433:6432']);
    expect(b.depends_on).toMatchObject({
      'postgres-primary': { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
    });
    expect(b.healthcheck.test.join(' ')).toContain('http://127.0.0.1:3338/health');
    expect(b.stop_grace_period).toBe(a.stop_grace_period);
  });

  it('points both at the Redis service, so DB_POOL_SIZE is one budget for both', () => {
    const env = services.poolpilot.environment as Record<string, string>;
    const given = {
      POSTGRES_PASSWORD: 'c0ffee',
      APP_DB_PASSWORD: 'tea',
      REPLICATION_PASSWORD: 'decaf',
      API_TOKENS: 'admin:0123456789abcdef0123',
      WIRE_USERS: `app:${formatVerifier(createVerifier('tea'))}`,
    };
    const resolved = Object.fromEntries(
      Object.entries(env).map(([k, v]) => [k, interpolate(String(v), given)]),
    );
    const config = loadConfig(resolved);
    expect(config.fleet?.redisUrl).toBe('redis://redis:6379');
    expect(new URL(config.fleet!.redisUrl).hostname).toBe('redis');
    expect(Object.keys(services)).toContain(new URL(config.fleet!.redisUrl).hostname);
    expect(config.pool.max).toBe(20);
  });
});

describe('Dockerfile', () => {
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const runtime = stages.at(-1)!;

  it('is multi-stage and runs the built server as a non-root user', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/RUN npm run build/);
    const user = /^USER (\S+)/m.exec(runtime)?.[1];
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    expect(runtime).toMatch(/^COPY --from=build \/app\/dist \.\/dist/m);
    const cmd = JSON.parse(/^CMD (.+)$/m.exec(runtime)![1]!) as string[];
    expect(cmd).toEqual(['node', 'dist/main.js']);
    // tsconfig.build.json compiles src/ into dist/, so src/main.ts becomes dist/main.js.
    const build = JSON.parse(readFileSync('tsconfig.build.json', 'utf8'));
    expect(build.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
  });

  it('exposes 3338 and checks /health', () => {
    expect(runtime).toMatch(/^EXPOSE 3338 6432$/m);
    expect(runtime).toMatch(/^HEALTHCHECK [\s\S]*\/health/m);
    expect(readFileSync('.dockerignore', 'utf8').split('\n')).toEqual(
      expect.arrayContaining(['node_modules', '.data', '.git']),
    );
  });
});
