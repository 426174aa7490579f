import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import type {
  CoreSettings,
  DatabaseConnection,
  FleetSettings,
  TargetConnections,
  TargetEndpoint,
} from '../shared/settings.js';
import { parseVerifier } from '../wire/scram-verifier.js';

/**
 * Every setting poolpilot reads, parsed and validated once at start-up into one frozen object.
 * Nothing below `src/config` reads `process.env`.
 */

export type { DatabaseConnection, TargetConnections };

export type Role = 'viewer' | 'operator' | 'admin';
export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];

export interface ApiToken {
  role: Role;
  token: string;
}

export interface Config extends CoreSettings {
  /** null: no database configured, so the embedded PostgreSQL is started. */
  primary: DatabaseConnection | null;
  /**
   * ADMIN_DATABASE_URL: the role poolpilot's control plane connects as (on the primary, and with
   * the same user and password on every replica); null means the same as each data connection.
   */
  admin: DatabaseConnection | null;
  replicas: DatabaseConnection[];
  port: number;
  host: string;
  tokens: ApiToken[];
  /** Origins (scheme://host[:port]) whose pages may call the API cross-origin (CORS_ORIGINS); none by default. */
  corsOrigins: string[];
  /** Operations (subscriptions included) one WebSocket connection may have open at once. */
  wsMaxSubscriptions: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Statements slower than this are logged (warn) with their target; 0 turns it off. */
  logSlowStatementMs: number;
  /** On SIGTERM/SIGINT, how long in-flight operations may run before they are cut off. */
  shutdownGraceMs: number;
  embedded: { dataDir: string; port: number };
  wire: WireConfig;
  /** REDIS_URL: the Redis instances of one cluster share (telemetry samplers); null runs alone. */
  redisUrl: string | null;
  /** INSTANCE_NAME: this instance within the cluster; host-pid by default. */
  instanceName: string;
}

/** The PostgreSQL wire-protocol front. */
export interface WireConfig {
  /** 0: the front is off. */
  port: number;
  host: string;
  /** SCRAM-SHA-256 verifiers (pg_authid form), checked at load. Empty: loopback clients only, no password. */
  users: WireUser[];
  /** May use every admin-console command. */
  adminUsers: string[];
  /** May use the admin console's read-only SHOW commands. */
  statsUsers: string[];
  /** Connected clients at most (past their startup packet); one more gets 53300. */
  maxClients: number;
  /** Named statements one server connection keeps prepared (LRU, closed past it). */
  maxPreparedStatements: number;
  /** Named statements one client may hold; one more gets 53400. */
  maxClientPreparedStatements: number;
  /** True when WIRE_HOST was unset, HOST is not loopback and there are no WIRE_USERS: host became 127.0.0.1. */
  loopbackFallback: boolean;
  /** The WIRE_USERS file, when WIRE_USERS names one: the admin console's RELOAD reads it again. */
  usersFile: string | null;
  /** WIRE_TLS_CERT / WIRE_TLS_KEY: PEM files for TLS with clients; null: no TLS offered. */
  tls: { certFile: string; keyFile: string } | null;
  /** WIRE_TLS_REQUIRED: which clients must use TLS. */
  tlsRequired: TlsRequired;
}

/** `non-loopback` (default): clients from any other address must use TLS; `all`; `off`. */
export type TlsRequired = 'non-loopback' | 'all' | 'off';

export interface WireUser {
  name: string;
  /** `SCRAM-SHA-256$iter:salt$StoredKey:ServerKey`; a secret, never printed. */
  verifier: string;
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const RYW_MODES = ['session', 'global', 'off'] as const;

/** The defaults table: one place that says what an unset variable means. */
export const DEFAULTS = {
  DB_PORT: 5432,
  DB_NAME: 'postgres',
  DB_USER: 'postgres',
  DB_POOL_SIZE: 20,
  DB_POOL_MIN: 5,
  ADMIN_POOL_SIZE: 3,
  DB_IDLE_TIMEOUT: 30_000,
  DB_CONN_TIMEOUT: 10_000,
  DB_STATEMENT_TIMEOUT: 30_000,
  DB_REPLICA_MAX_LAG_MS: 5_000,
  HEALTH_CHECK_INTERVAL_MS: 2_000,
  COMPLEX_QUEUE_CONCURRENCY: 2,
  COMPLEX_QUEUE_MAX: 100,
  COMPLEX_QUEUE_TIMEOUT_MS: 30_000,
  ROUTE_MEDIUM_THRESHOLD: 20,
  ROUTE_COMPLEX_THRESHOLD: 50,
  READ_YOUR_WRITES_WINDOW_MS: 5_000,
  READ_YOUR_WRITES: 'session',
  READ_YOUR_WRITES_MAX_SESSIONS: 10_000,
  CAUSAL_WAIT_MS: 150,
  REPLAY_POLL_MS: 25,
  ANALYZER_CACHE_SIZE: 2_000,
  ANALYZER_CACHE_TTL_MS: 300_000,
  ANALYZER_PLAN_TIMEOUT_MS: 2_000,
  ANALYZER_LARGE_TABLE_ROWS: 100_000,
  READ_ONLY_FUNCTIONS: '',
  MAX_SQL_BYTES: 1_048_576,
  EXECUTE_MAX_ROWS: 10_000,
  EXECUTE_MAX_BYTES: 64 * 1024 * 1024,
  SLOW_QUERY_MIN_CALLS: 100,
  SLOW_QUERY_MIN_MEAN_MS: 20,
  IDLE_IN_TRANSACTION_LIMIT_MS: 1_800_000,
  PARTITION_MIN_ROWS: 10_000_000,
  PORT: 3338,
  CORS_ORIGINS: '',
  WS_MAX_SUBSCRIPTIONS: 100,
  HOST: '127.0.0.1',
  LOG_LEVEL: 'info',
  LOG_SLOW_STATEMENT_MS: 1_000,
  SHUTDOWN_GRACE_MS: 30_000,
  EMBEDDED_PG_DATA: '.data',
  EMBEDDED_PG_PORT: 5432,
  WIRE_PORT: 6432,
  WIRE_MAX_CLIENTS: 1_000,
  WIRE_MAX_PREPARED_STATEMENTS: 200,
  WIRE_MAX_CLIENT_PREPARED_STATEMENTS: 1_000,
} as const;

export function loadConfig(env: Env = process.env): Readonly<Config> {
  const problems: string[] = [];
  const int = (name: keyof typeof DEFAULTS | string, fallback: number | null, min: number, max: number) => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return fallback;
    const value = Number(raw.trim());
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(
        `${name}=${JSON.stringify(raw)} is not accepted: expected a whole number from ${min} to ${max}`,
      );
      return fallback;
    }
    return value;
  };

  const primary = parsePrimary(env, problems, int);
  const admin = parseAdmin(env, primary, problems);
  const replicas = (env.DB_REPLICA_URLS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .flatMap((url, i) => {
      const parsed = parseUrl(url);
      if (!parsed) {
        problems.push(
          `DB_REPLICA_URLS entry ${i + 1} (${maskUrl(url)}) is not accepted: expected postgres://user:password@host:port/database`,
        );
        return [];
      }
      return [parsed];
    });

  const max = int('DB_POOL_SIZE', DEFAULTS.DB_POOL_SIZE, 1, 10_000)!;
  const min = int('DB_POOL_MIN', DEFAULTS.DB_POOL_MIN, 0, 10_000)!;
  if (min > max)
    problems.push(`DB_POOL_MIN=${min} is not accepted: it must not exceed DB_POOL_SIZE (${max})`);

  const port = int('PORT', DEFAULTS.PORT, 0, 65_535)!;
  const host = (env.HOST ?? DEFAULTS.HOST).trim();
  if (!host) problems.push('HOST="" is not accepted: expected a host name or IP address');

  const tokens = parseTokens(env.API_TOKENS, problems);
  if (tokens.length === 0 && host && !isLoopback(host)) {
    problems.push(
      `HOST=${JSON.stringify(host)} is not accepted without API_TOKENS: with no tokens poolpilot listens on loopback only ` +
        '(127.0.0.1, ::1 or localhost); set API_TOKENS=role:token,... to listen elsewhere',
    );
  }

  const corsOrigins = parseOrigins(env.CORS_ORIGINS ?? DEFAULTS.CORS_ORIGINS, problems);

  const mediumThreshold = int('ROUTE_MEDIUM_THRESHOLD', DEFAULTS.ROUTE_MEDIUM_THRESHOLD, 0, 100)!;
  const complexThreshold = int('ROUTE_COMPLEX_THRESHOLD', DEFAULTS.ROUTE_COMPLEX_THRESHOLD, 0, 101)!;
  if (complexThreshold < mediumThreshold) {
    problems.push(
      `ROUTE_COMPLEX_THRESHOLD=${complexThreshold} is not accepted: it must not be below ROUTE_MEDIUM_THRESHOLD (${mediumThreshold})`,
    );
  }
  const readOnlyFunctions = (env.READ_ONLY_FUNCTIONS ?? DEFAULTS.READ_ONLY_FUNCTIONS)
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  for (const name of readOnlyFunctions) {
    if (!/^[a-z_][a-z0-9_$]*(\.[a-z_][a-z0-9_$]*)?$/.test(name)) {
      problems.push(
        `READ_ONLY_FUNCTIONS entry ${JSON.stringify(name)} is not accepted: expected function names (name or schema.name), comma-separated`,
      );
    }
  }

  const logLevel = (env.LOG_LEVEL ?? DEFAULTS.LOG_LEVEL).trim().toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    problems.push(
      `LOG_LEVEL=${JSON.stringify(env.LOG_LEVEL)} is not accepted: expected one of ${LOG_LEVELS.join(', ')}`,
    );
  }

  const wire = parseWire(env, problems, int, host);
  const fleet = parseFleet(env, problems);

  const readYourWrites = (env.READ_YOUR_WRITES ?? DEFAULTS.READ_YOUR_WRITES).trim().toLowerCase();
  if (!(RYW_MODES as readonly string[]).includes(readYourWrites)) {
    problems.push(
      `READ_YOUR_WRITES=${JSON.stringify(env.READ_YOUR_WRITES)} is not accepted: expected one of ${RYW_MODES.join(', ')}`,
    );
  }

  const config: Config = {
    primary,
    admin,
    replicas,
    pool: {
      max,
      min,
      idleTimeoutMs: int('DB_IDLE_TIMEOUT', DEFAULTS.DB_IDLE_TIMEOUT, 100, 86_400_000)!,
      connectionTimeoutMs: int('DB_CONN_TIMEOUT', DEFAULTS.DB_CONN_TIMEOUT, 100, 600_000)!,
      statementTimeoutMs: int('DB_STATEMENT_TIMEOUT', DEFAULTS.DB_STATEMENT_TIMEOUT, 1, 86_400_000)!,
    },
    adminPool: { max: int('ADMIN_POOL_SIZE', DEFAULTS.ADMIN_POOL_SIZE, 1, 100)!, min: 0 },
    replicaMaxLagMs: int('DB_REPLICA_MAX_LAG_MS', DEFAULTS.DB_REPLICA_MAX_LAG_MS, 0, 86_400_000)!,
    healthCheckIntervalMs: int(
      'HEALTH_CHECK_INTERVAL_MS',
      DEFAULTS.HEALTH_CHECK_INTERVAL_MS,
      100,
      3_600_000,
    )!,
    queue: {
      concurrency: int('COMPLEX_QUEUE_CONCURRENCY', DEFAULTS.COMPLEX_QUEUE_CONCURRENCY, 1, 1_000)!,
      max: int('COMPLEX_QUEUE_MAX', DEFAULTS.COMPLEX_QUEUE_MAX, 0, 1_000_000)!,
      timeoutMs: int('COMPLEX_QUEUE_TIMEOUT_MS', DEFAULTS.COMPLEX_QUEUE_TIMEOUT_MS, 1, 86_400_000)!,
    },
    analyzer: {
      cacheSize: int('ANALYZER_CACHE_SIZE', DEFAULTS.ANALYZER_CACHE_SIZE, 0, 1_000_000)!,
      cacheTtlMs: int('ANALYZER_CACHE_TTL_MS', DEFAULTS.ANALYZER_CACHE_TTL_MS, 0, 86_400_000)!,
      planTimeoutMs: int('ANALYZER_PLAN_TIMEOUT_MS', DEFAULTS.ANALYZER_PLAN_TIMEOUT_MS, 1, 600_000)!,
      largeTableRows: int('ANALYZER_LARGE_TABLE_ROWS', DEFAULTS.ANALYZER_LARGE_TABLE_ROWS, 1, 1e15)!,
      readOnlyFunctions,
    },
    routing: {
      mediumThreshold,
      complexThreshold,
      readYourWritesWindowMs: int(
        'READ_YOUR_WRITES_WINDOW_MS',
        DEFAULTS.READ_YOUR_WRITES_WINDOW_MS,
        0,
        86_400_000,
      )!,
      readYourWrites: readYourWrites as Config['routing']['readYourWrites'],
      readYourWritesMaxSessions: int(
        'READ_YOUR_WRITES_MAX_SESSIONS',
        DEFAULTS.READ_YOUR_WRITES_MAX_SESSIONS,
        1,
        10_000_000,
      )!,
      causalWaitMs: int('CAUSAL_WAIT_MS', DEFAULTS.CAUSAL_WAIT_MS, 0, 60_000)!,
      replayPollMs: int('REPLAY_POLL_MS', DEFAULTS.REPLAY_POLL_MS, 5, 10_000)!,
    },
    execute: {
      maxSqlBytes: int('MAX_SQL_BYTES', DEFAULTS.MAX_SQL_BYTES, 16, 1_073_741_824)!,
      maxRows: int('EXECUTE_MAX_ROWS', DEFAULTS.EXECUTE_MAX_ROWS, 1, 10_000_000)!,
      maxBytes: int('EXECUTE_MAX_BYTES', DEFAULTS.EXECUTE_MAX_BYTES, 1_024, 1_073_741_824)!,
    },
    insights: {
      slowQueryMinCalls: int('SLOW_QUERY_MIN_CALLS', DEFAULTS.SLOW_QUERY_MIN_CALLS, 1, 1_000_000_000)!,
      slowQueryMinMeanMs: int('SLOW_QUERY_MIN_MEAN_MS', DEFAULTS.SLOW_QUERY_MIN_MEAN_MS, 0, 86_400_000)!,
      idleInTransactionLimitMs: int(
        'IDLE_IN_TRANSACTION_LIMIT_MS',
        DEFAULTS.IDLE_IN_TRANSACTION_LIMIT_MS,
        1_000,
        604_800_000,
      )!,
      partitionMinRows: int('PARTITION_MIN_ROWS', DEFAULTS.PARTITION_MIN_ROWS, 1, Number.MAX_SAFE_INTEGER)!,
    },
    dbContainer: env.DB_CONTAINER?.trim() || null,
    serverMemoryMb: int('DB_SERVER_MEMORY_MB', null, 64, 100_000_000),
    serverCpus: int('DB_SERVER_CPUS', null, 1, 10_000),
    fleet,
    port,
    host,
    tokens,
    corsOrigins,
    wsMaxSubscriptions: int('WS_MAX_SUBSCRIPTIONS', DEFAULTS.WS_MAX_SUBSCRIPTIONS, 1, 10_000)!,
    logLevel: logLevel as Config['logLevel'],
    logSlowStatementMs: int('LOG_SLOW_STATEMENT_MS', DEFAULTS.LOG_SLOW_STATEMENT_MS, 0, 86_400_000)!,
    shutdownGraceMs: int('SHUTDOWN_GRACE_MS', DEFAULTS.SHUTDOWN_GRACE_MS, 0, 3_600_000)!,
    embedded: {
      dataDir: env.EMBEDDED_PG_DATA?.trim() || DEFAULTS.EMBEDDED_PG_DATA,
      port: int('EMBEDDED_PG_PORT', DEFAULTS.EMBEDDED_PG_PORT, 1, 65_535)!,
    },
    wire,
    redisUrl: fleet?.redisUrl ?? null,
    instanceName: fleet?.instanceName ?? (env.INSTANCE_NAME?.trim() || defaultInstanceName()),
  };

  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

/**
 * REDIS_URL turns several instances into one fleet (shared connection budget, cancel, analysis);
 * INSTANCE_NAME names this one among them. Without REDIS_URL, INSTANCE_NAME is ignored.
 */
function parseFleet(env: Env, problems: string[]): FleetSettings | null {
  const raw = env.REDIS_URL?.trim();
  // The default is always acceptable, whatever the host is called (a long pod name, say).
  const name = env.INSTANCE_NAME?.trim() || defaultInstanceName();
  if (!/^[A-Za-z0-9._:-]{1,64}$/.test(name)) {
    problems.push(
      `INSTANCE_NAME=${JSON.stringify(env.INSTANCE_NAME)} is not accepted: expected 1 to 64 letters, digits, '.', '_', ':' or '-'`,
    );
  }
  if (!raw) return null;
  let url: URL | null = null;
  try {
    url = new URL(raw);
  } catch {
    url = null;
  }
  if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || !url.hostname) {
    problems.push(
      `REDIS_URL=${JSON.stringify(maskUrl(raw))} is not accepted: expected redis://[user:password@]host:port[/db] or rediss://...`,
    );
    return null;
  }
  return { redisUrl: raw, instanceName: name };
}

/** host-pid, always acceptable whatever the host is called (a long pod name, say). */
function defaultInstanceName(): string {
  return `${hostname()
    .replace(/[^A-Za-z0-9._:-]/g, '-')
    .slice(0, 52)}-${process.pid}`;
}

type IntReader = (name: string, fallback: number | null, min: number, max: number) => number | null;

// --- WIRE_* (the PostgreSQL wire-protocol front) ---------------------------------------------

function parseWire(env: Env, problems: string[], int: IntReader, httpHost: string): WireConfig {
  const port = int('WIRE_PORT', DEFAULTS.WIRE_PORT, 0, 65_535)!;
  const users = parseWireUsers(env.WIRE_USERS, problems);
  const explicit = env.WIRE_HOST !== undefined;
  let host = (env.WIRE_HOST ?? httpHost).trim();
  if (!host) problems.push('WIRE_HOST="" is not accepted: expected a host name or IP address');
  // Without users the front is loopback-only. A non-loopback HOST meant for the HTTP side (with
  // API_TOKENS) must not open the wire front to the network: it falls back to loopback instead.
  const loopbackFallback = !explicit && users.length === 0 && !!host && !isLoopback(host);
  if (loopbackFallback) host = '127.0.0.1';
  if (port !== 0 && users.length === 0 && host && !isLoopback(host)) {
    problems.push(
      `WIRE_HOST=${JSON.stringify(host)} is not accepted without WIRE_USERS: with no users the wire front accepts ` +
        'loopback clients only (127.0.0.1, ::1 or localhost); set WIRE_USERS (see `poolpilot hash-password`) to listen elsewhere',
    );
  }
  const names = (variable: string) => {
    const list = (env[variable] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const name of list) {
      if (users.length > 0 && !users.some((u) => u.name === name)) {
        problems.push(
          `${variable} entry ${JSON.stringify(name)} is not accepted: it is not a user of WIRE_USERS`,
        );
      }
    }
    return list;
  };
  return {
    port,
    host,
    users,
    adminUsers: names('WIRE_ADMIN_USERS'),
    statsUsers: names('WIRE_STATS_USERS'),
    maxClients: int('WIRE_MAX_CLIENTS', DEFAULTS.WIRE_MAX_CLIENTS, 1, 1_000_000)!,
    maxPreparedStatements: int(
      'WIRE_MAX_PREPARED_STATEMENTS',
      DEFAULTS.WIRE_MAX_PREPARED_STATEMENTS,
      1,
      100_000,
    )!,
    maxClientPreparedStatements: int(
      'WIRE_MAX_CLIENT_PREPARED_STATEMENTS',
      DEFAULTS.WIRE_MAX_CLIENT_PREPARED_STATEMENTS,
      1,
      1_000_000,
    )!,
    loopbackFallback,
    usersFile: env.WIRE_USERS?.trim() && !env.WIRE_USERS.includes('$') ? env.WIRE_USERS.trim() : null,
    ...parseWireTls(env, problems),
  };
}

function parseWireTls(env: Env, problems: string[]): Pick<WireConfig, 'tls' | 'tlsRequired'> {
  const certFile = env.WIRE_TLS_CERT?.trim() || null;
  const keyFile = env.WIRE_TLS_KEY?.trim() || null;
  let tls: WireConfig['tls'] = null;
  if (certFile && keyFile) {
    const problem = readTlsFiles({ certFile, keyFile });
    if (problem) problems.push(problem);
    tls = { certFile, keyFile };
  } else if (certFile || keyFile) {
    problems.push(
      `${certFile ? 'WIRE_TLS_CERT' : 'WIRE_TLS_KEY'} is not accepted alone: set both WIRE_TLS_CERT and WIRE_TLS_KEY (PEM files)`,
    );
  }
  const raw = env.WIRE_TLS_REQUIRED?.trim() || 'non-loopback';
  const tlsRequired = (['non-loopback', 'all', 'off'] as const).find((v) => v === raw);
  if (!tlsRequired) {
    problems.push(
      `WIRE_TLS_REQUIRED=${JSON.stringify(raw)} is not accepted: expected non-loopback, all or off`,
    );
  } else if (tlsRequired === 'all' && !tls) {
    problems.push('WIRE_TLS_REQUIRED=all is not accepted without WIRE_TLS_CERT and WIRE_TLS_KEY');
  }
  return { tls, tlsRequired: tlsRequired ?? 'non-loopback' };
}

/** Reads the certificate and key (at start-up and on RELOAD); a problem naming the variable, or null. */
export function readTlsFiles(files: { certFile: string; keyFile: string }): string | null {
  for (const [variable, file] of [
    ['WIRE_TLS_CERT', files.certFile],
    ['WIRE_TLS_KEY', files.keyFile],
  ] as const) {
    try {
      const text = readFileSync(file, 'utf8');
      if (!text.includes('-----BEGIN '))
        return `${variable}=${JSON.stringify(file)} is not accepted: not a PEM file`;
    } catch (error) {
      return `${variable}=${JSON.stringify(file)} is not accepted: the file cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
    }
  }
  return null;
}

/** WIRE_USERS read again (RELOAD): the users, or the problems that keep the old list in place. */
export function reloadWireUsers(raw: string): { users: WireUser[]; problems: string[] } {
  const problems: string[] = [];
  const users = parseWireUsers(raw, problems);
  return { users, problems };
}

/**
 * WIRE_USERS: comma-separated `user:verifier` pairs, or the path of a file with one pair per line
 * (`#` comments; PgBouncer's userlist form `"user" "verifier"` also accepted). Messages name the
 * entry and the user, never the verifier.
 */
function parseWireUsers(raw: string | undefined, problems: string[]): WireUser[] {
  if (!raw?.trim()) return [];
  let entries: string[];
  let where: string;
  if (raw.includes('$')) {
    entries = raw.split(',');
    where = 'WIRE_USERS entry';
  } else {
    const file = raw.trim();
    try {
      entries = readFileSync(file, 'utf8').split(/\r?\n/);
    } catch (error) {
      problems.push(
        `WIRE_USERS=${JSON.stringify(file)} is not accepted: no user:verifier pairs, and the file cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
      return [];
    }
    where = `WIRE_USERS file ${file}, line`;
  }
  const users: WireUser[] = [];
  entries.forEach((entry, i) => {
    const trimmed = entry.trim();
    if (!trimmed || trimmed.startsWith('#')) return;
    const quoted = /^"((?:[^"]|"")+)"\s+"([^"]*)"$/.exec(trimmed);
    const colon = trimmed.indexOf(':');
    const name = quoted ? quoted[1]!.replaceAll('""', '"') : colon > 0 ? trimmed.slice(0, colon) : '';
    const verifier = quoted ? quoted[2]! : colon > 0 ? trimmed.slice(colon + 1) : '';
    if (!name || [...name].some((ch) => ch.charCodeAt(0) < 0x20)) {
      problems.push(
        `${where} ${i + 1} is not accepted: expected user:SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`,
      );
      return;
    }
    const parsed = parseVerifier(verifier);
    if (typeof parsed === 'string') {
      problems.push(`${where} ${i + 1} (user ${JSON.stringify(name)}) is not accepted: ${parsed}`);
      return;
    }
    if (users.some((u) => u.name === name)) {
      problems.push(`${where} ${i + 1} is not accepted: user ${JSON.stringify(name)} is listed twice`);
      return;
    }
    users.push({ name, verifier });
  });
  return users;
}

function parsePrimary(env: Env, problems: string[], int: IntReader): DatabaseConnection | null {
  if (env.DATABASE_URL?.trim()) {
    const parsed = parseUrl(env.DATABASE_URL.trim());
    if (!parsed) {
      problems.push(
        `DATABASE_URL=${JSON.stringify(maskUrl(env.DATABASE_URL))} is not accepted: expected postgres://user:password@host:port/database`,
      );
    }
    return parsed;
  }
  if (!env.DB_HOST?.trim()) return null;
  const endpoint: TargetEndpoint = {
    host: env.DB_HOST.trim(),
    port: int('DB_PORT', DEFAULTS.DB_PORT, 1, 65_535)!,
    database: env.DB_NAME?.trim() || DEFAULTS.DB_NAME,
    user: env.DB_USER?.trim() || DEFAULTS.DB_USER,
  };
  const url = new URL('postgres://localhost');
  url.hostname = endpoint.host;
  url.port = String(endpoint.port);
  url.pathname = `/${encodeURIComponent(endpoint.database)}`;
  url.username = encodeURIComponent(endpoint.user);
  if (env.DB_PASSWORD) url.password = encodeURIComponent(env.DB_PASSWORD);
  return { connectionString: url.toString(), endpoint };
}

function parseAdmin(
  env: Env,
  primary: DatabaseConnection | null,
  problems: string[],
): DatabaseConnection | null {
  const raw = env.ADMIN_DATABASE_URL?.trim();
  if (!raw) return null;
  const parsed = parseUrl(raw);
  if (!parsed) {
    problems.push(
      `ADMIN_DATABASE_URL=${JSON.stringify(maskUrl(raw))} is not accepted: expected postgres://user:password@host:port/database`,
    );
    return null;
  }
  if (!primary) {
    problems.push(
      'ADMIN_DATABASE_URL is not accepted without DATABASE_URL (or DB_HOST): the embedded PostgreSQL makes its own roles',
    );
    return null;
  }
  // Insights and optimizations read the database callers use: the same one, through another role.
  if (parsed.endpoint.database !== primary.endpoint.database) {
    problems.push(
      `ADMIN_DATABASE_URL is not accepted: its database ${JSON.stringify(parsed.endpoint.database)} must be the one DATABASE_URL names (${JSON.stringify(primary.endpoint.database)})`,
    );
    return null;
  }
  return parsed;
}

/**
 * A replica's data connection paired with its control-plane one: `admin`'s user and password on
 * the replica's host, port and database, so one ADMIN_DATABASE_URL serves every server (roles are
 * cluster-wide and replicated). Without `admin`, both are the same connection.
 */
export function withAdmin(data: DatabaseConnection, admin: DatabaseConnection | null): TargetConnections {
  if (!admin) return { data, admin: data };
  const url = new URL(data.connectionString);
  const credentials = new URL(admin.connectionString);
  url.username = credentials.username;
  url.password = credentials.password;
  return {
    data,
    admin: {
      connectionString: url.toString(),
      endpoint: { ...data.endpoint, user: admin.endpoint.user },
    },
  };
}

/** The part of the configuration the core runs on (no ports, tokens or logging). */
export function coreSettings(config: Readonly<Config>): CoreSettings {
  return {
    pool: config.pool,
    adminPool: config.adminPool,
    replicaMaxLagMs: config.replicaMaxLagMs,
    healthCheckIntervalMs: config.healthCheckIntervalMs,
    queue: config.queue,
    analyzer: config.analyzer,
    routing: config.routing,
    execute: config.execute,
    insights: config.insights,
    dbContainer: config.dbContainer,
    serverMemoryMb: config.serverMemoryMb,
    serverCpus: config.serverCpus,
    fleet: config.fleet,
  };
}

/** The configured servers with both of their connections; the primary is null when embedded. */
export function databaseTargets(config: Readonly<Config>): {
  primary: TargetConnections | null;
  replicas: TargetConnections[];
} {
  return {
    primary: config.primary ? { data: config.primary, admin: config.admin ?? config.primary } : null,
    replicas: config.replicas.map((r) => withAdmin(r, config.admin)),
  };
}

export function parseUrl(raw: string): DatabaseConnection | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') return null;
  if (!url.hostname) return null;
  const port = url.port ? Number(url.port) : 5432;
  return {
    connectionString: raw,
    endpoint: {
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port,
      database: decodeURIComponent(url.pathname.replace(/^\//, '')) || 'postgres',
      user: decodeURIComponent(url.username) || 'postgres',
    },
  };
}

/** The URL with its password replaced, for messages. */
export function maskUrl(raw: string): string {
  return raw.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1****@');
}

function parseTokens(raw: string | undefined, problems: string[]): ApiToken[] {
  if (!raw?.trim()) return [];
  const tokens: ApiToken[] = [];
  raw.split(',').forEach((pair, i) => {
    const trimmed = pair.trim();
    if (!trimmed) return;
    const colon = trimmed.indexOf(':');
    const role = colon === -1 ? trimmed : trimmed.slice(0, colon);
    const token = colon === -1 ? '' : trimmed.slice(colon + 1);
    // The token itself never appears in a message: only its position and what is wrong.
    if (!(ROLES as readonly string[]).includes(role)) {
      problems.push(
        `API_TOKENS entry ${i + 1} is not accepted: role ${JSON.stringify(role)} must be one of ${ROLES.join(', ')} (format role:token)`,
      );
    } else if (token.length < 16) {
      problems.push(
        `API_TOKENS entry ${i + 1} (${role}) is not accepted: the token must be at least 16 characters`,
      );
    } else {
      tokens.push({ role: role as Role, token });
    }
  });
  return tokens;
}

/**
 * CORS_ORIGINS: exact origins, as a browser sends them in `Origin`. No wildcard: with no tokens
 * configured every caller is admin, so `*` would let any page on the web run SQL.
 */
function parseOrigins(raw: string, problems: string[]): string[] {
  const origins: string[] = [];
  for (const entry of raw.split(',').map((s) => s.trim())) {
    if (!entry) continue;
    let url: URL | null = null;
    try {
      url = new URL(entry);
    } catch {
      url = null;
    }
    const bare =
      url !== null &&
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      !url.username &&
      !url.password &&
      url.pathname === '/' &&
      !url.search &&
      !url.hash &&
      !entry.includes('*');
    if (!url || !bare) {
      problems.push(
        `CORS_ORIGINS entry ${JSON.stringify(entry)} is not accepted: expected origins such as https://app.example.com ` +
          'or http://localhost:5173 (scheme, host and optional port; no path, no wildcard), comma-separated',
      );
      continue;
    }
    if (!origins.includes(url.origin)) origins.push(url.origin);
  }
  return origins;
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1';
  return false;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
