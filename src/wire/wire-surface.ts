import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContext } from 'node:tls';
import { DEFAULTS, isLoopback, readTlsFiles, reloadWireUsers, type WireConfig } from '../config/index.js';
import { ErrorCode, PoolpilotError } from '../core/errors.js';
import { processIdFor } from '../core/fleet/index.js';
import type { Logger } from '../core/logger.js';
import type { Poolpilot } from '../core/poolpilot.js';
import { VERSION } from '../core/poolpilot.js';
import type { Surface } from '../surface.js';
import { AdminConsole } from './admin-console.js';
import type { ConfigRow, ConsoleClient } from './admin-tables.js';
import { WireListener } from './listener.js';
import { WireProxy } from './proxy.js';
import { verifierMap } from './scram-verifier.js';

/** What a client is told of the server at startup, whatever connection it later lands on. */
const REPORTED = [
  'server_version',
  'server_encoding',
  'client_encoding',
  'DateStyle',
  'IntervalStyle',
  'TimeZone',
  'integer_datetimes',
  'standard_conforming_strings',
  'is_superuser',
  'session_authorization',
  'in_hot_standby',
];

/**
 * The PostgreSQL wire-protocol front as one surface of the service: the listener (startup and
 * authentication) in front of the proxy (transaction pooling on the core's pools).
 */
export class WireSurface implements Surface {
  readonly name = 'wire';
  readonly proxy: WireProxy;
  readonly listener: WireListener;
  /** The admin console behind the virtual databases `pgbouncer` and `poolpilot`. */
  readonly console: AdminConsole;
  readonly #config: WireConfig;
  /** Users as last loaded (start-up or RELOAD). */
  #users: number;
  readonly #poolpilot: Poolpilot;
  readonly #log: Logger;
  /** The primary's own ParameterStatus values, read from a pooled connection once it is up. */
  #server: Record<string, string> = {};

  constructor(poolpilot: Poolpilot, config: WireConfig, log: Logger) {
    this.#config = config;
    this.#poolpilot = poolpilot;
    this.#log = log;
    this.proxy = new WireProxy(poolpilot, log, {
      perConnection: config.maxPreparedStatements,
      perClient: config.maxClientPreparedStatements,
    });
    this.#users = config.users.length;
    const database = poolpilot.cluster.primary.spec.endpoint.database;
    this.console = new AdminConsole({
      poolpilot,
      version: VERSION,
      maxClients: config.maxClients,
      clients: () => this.#consoleClients(),
      loggingIn: () => this.listener.loggingIn,
      users: () => this.#users,
      config: () => this.#configRows(),
      reload: () => this.reload(),
      log: log.child({ component: 'admin-console' }),
    });
    const fleet = poolpilot.fleet;
    this.listener = new WireListener({
      database,
      users: verifierMap(config.users),
      tls: config.tls ? secureContext(config.tls) : null,
      tlsRequired: config.tlsRequired,
      admin: this.console,
      adminUsers: config.adminUsers,
      statsUsers: config.statsUsers,
      maxClients: config.maxClients,
      handler: this.proxy,
      parameters: ({ parameters }) => {
        const values: Record<string, string> = { ...this.#server };
        // The client's own settings are set on every connection it uses, so it sees them.
        for (const name of ['client_encoding', 'DateStyle', 'IntervalStyle', 'TimeZone']) {
          const own = Object.entries(parameters).find(([k]) => k.toLowerCase() === name.toLowerCase());
          if (own) values[name] = own[1];
        }
        values.application_name = parameters.application_name ?? '';
        values.is_superuser = 'off';
        return values;
      },
      onCancel: (client) => this.proxy.cancel(client),
      fleet: fleet
        ? {
            processId: (random) =>
              fleet.membership.slot === null ? null : processIdFor(fleet.membership.slot, random),
            forward: (processId, secretKey) => fleet.cancels.forward(processId, secretKey),
          }
        : undefined,
      log: log.child({ component: 'wire' }),
    });
    fleet?.cancels.onCancel((processId, secretKey) => this.listener.cancel(processId, secretKey));
  }

  async listen(): Promise<string> {
    await this.#readServerParameters();
    if (!this.#config.tls && this.#config.tlsRequired !== 'off' && !isLoopback(this.#config.host)) {
      this.#log.warn(
        { host: this.#config.host },
        'wire front listens beyond loopback without WIRE_TLS_CERT/WIRE_TLS_KEY: non-loopback clients are refused (28000) until TLS is configured or WIRE_TLS_REQUIRED=off',
      );
    }
    const address = await this.listener.listen(this.#config.port, this.#config.host);
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `postgres://${host}:${address.port}/${this.#poolpilot.cluster.primary.spec.endpoint.database}`;
    this.#poolpilot.clients.front({ name: this.name, listening: true, url });
    return url;
  }

  /** Clients finish the transaction in flight, then are closed with 57P01. */
  drain(graceMs: number): Promise<boolean> {
    this.#poolpilot.clients.front({ name: this.name, listening: false, url: null });
    this.console.close();
    return this.listener.drain(graceMs);
  }

  close(): Promise<void> {
    this.#poolpilot.clients.front({ name: this.name, listening: false, url: null });
    this.console.close();
    return this.listener.close();
  }

  /**
   * The admin console's RELOAD: the WIRE_USERS file (when WIRE_USERS names one) and the TLS
   * certificate and key are read again and used for logins from now on. Environment variables
   * cannot change in a running process; everything else needs a restart. Throws, keeping what
   * is in use, when a file is unreadable or invalid.
   */
  reload(): string[] {
    const reloaded: string[] = [];
    const problems: string[] = [];
    let users: ReturnType<typeof reloadWireUsers> | null = null;
    if (this.#config.usersFile) {
      users = reloadWireUsers(this.#config.usersFile);
      problems.push(...users.problems);
    }
    let tls: SecureContext | null = null;
    if (this.#config.tls) {
      const problem = readTlsFiles(this.#config.tls);
      if (problem) problems.push(problem);
      else {
        try {
          tls = secureContext(this.#config.tls);
        } catch (error) {
          problems.push(`WIRE_TLS_CERT/WIRE_TLS_KEY are not accepted: ${(error as Error).message}`);
        }
      }
    }
    if (problems.length > 0)
      throw new PoolpilotError(ErrorCode.BadUserInput, `RELOAD failed: ${problems.join('; ')}`);
    if (users) {
      this.listener.setUsers(verifierMap(users.users));
      this.#users = users.users.length;
      reloaded.push(`WIRE_USERS (${users.users.length} users)`);
    }
    if (tls) {
      this.listener.setTls(tls);
      reloaded.push('WIRE_TLS_CERT, WIRE_TLS_KEY');
    }
    return reloaded;
  }

  #consoleClients(): ConsoleClient[] {
    const out: ConsoleClient[] = [];
    for (const session of this.proxy.sessions()) {
      const socket = session.client.socket;
      out.push({
        info: session.record.snapshot(),
        localAddress: socket.localAddress ?? '',
        localPort: socket.localPort ?? 0,
        tls: session.client.tls,
      });
    }
    for (const session of this.console.sessions()) {
      const c = session.client;
      out.push({
        info: {
          id: c.id,
          surface: 'wire',
          user: c.user,
          database: c.database,
          applicationName: c.applicationName,
          address: c.remoteAddress,
          port: c.remotePort,
          connectedAt: session.connectedAt,
          state: session.running ? 'active' : 'idle',
          target: null,
          transactionAgeMs: null,
          waitMs: null,
          lastRequestAt: session.lastRequestAt,
          preparedStatements: 0,
        },
        localAddress: c.socket.localAddress ?? '',
        localPort: c.socket.localPort ?? 0,
        tls: c.tls,
      });
    }
    return out;
  }

  /** SHOW CONFIG: PgBouncer's names where poolpilot has the same setting, with live values. */
  #configRows(): ConfigRow[] {
    const c = this.#config;
    const pool = this.#poolpilot.cluster.primary.pool.options;
    const row = (key: string, value: unknown, fallback: unknown, changeable = false): ConfigRow => ({
      key,
      value: String(value),
      default: String(fallback),
      changeable,
    });
    return [
      row('listen_addr', c.host, DEFAULTS.HOST),
      row('listen_port', this.listener.address?.port ?? c.port, DEFAULTS.WIRE_PORT),
      row('pool_mode', 'transaction', 'transaction'),
      row('default_pool_size', pool.max, DEFAULTS.DB_POOL_SIZE, true),
      row('min_pool_size', pool.min, DEFAULTS.DB_POOL_MIN, true),
      row('max_client_conn', c.maxClients, DEFAULTS.WIRE_MAX_CLIENTS),
      row('server_idle_timeout', Math.round(pool.idleTimeoutMs / 1000), DEFAULTS.DB_IDLE_TIMEOUT / 1000),
      row('query_wait_timeout', Math.round(pool.connectionTimeoutMs / 1000), DEFAULTS.DB_CONN_TIMEOUT / 1000),
      row('server_reset_query', 'DISCARD ALL', 'DISCARD ALL'),
      row('auth_type', c.users.length > 0 ? 'scram-sha-256' : 'trust', 'trust'),
      row('auth_file', c.usersFile ?? '', '', c.usersFile !== null),
      row('admin_users', c.adminUsers.join(','), ''),
      row('stats_users', c.statsUsers.join(','), ''),
      row('client_tls_sslmode', clientSslMode(c), 'disable'),
      row('client_tls_cert_file', c.tls?.certFile ?? '', '', c.tls !== null),
      row('client_tls_key_file', c.tls?.keyFile ?? '', '', c.tls !== null),
      row('stats_period', 60, 60),
    ];
  }

  async #readServerParameters(): Promise<void> {
    const lease = await this.#poolpilot.cluster.primary.pool.acquire().catch(() => null);
    if (!lease) return;
    try {
      const values: Record<string, string> = {};
      for (const name of REPORTED) {
        const value = lease.parameter(name);
        if (value !== undefined) values[name] = value;
      }
      this.#server = values;
    } finally {
      lease.release();
    }
  }
}

function secureContext(files: { certFile: string; keyFile: string }): SecureContext {
  return createSecureContext({ cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) });
}

/** PgBouncer's client_tls_sslmode for what the front does. */
function clientSslMode(c: WireConfig): string {
  if (!c.tls) return 'disable';
  return c.tlsRequired === 'all' ? 'require' : 'allow';
}
