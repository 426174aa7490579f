import type { WireConfig } from '../config/index.js';
import { processIdFor } from '../core/fleet/index.js';
import type { Logger } from '../core/logger.js';
import type { Poolpilot } from '../core/poolpilot.js';
import type { Surface } from '../surface.js';
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
  readonly #config: WireConfig;
  readonly #poolpilot: Poolpilot;
  /** The primary's own ParameterStatus values, read from a pooled connection once it is up. */
  #server: Record<string, string> = {};

  constructor(poolpilot: Poolpilot, config: WireConfig, log: Logger) {
    this.#config = config;
    this.#poolpilot = poolpilot;
    this.proxy = new WireProxy(poolpilot, log);
    const database = poolpilot.cluster.primary.spec.endpoint.database;
    const fleet = poolpilot.fleet;
    this.listener = new WireListener({
      database,
      users: verifierMap(config.users),
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
    const address = await this.listener.listen(this.#config.port, this.#config.host);
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `postgres://${host}:${address.port}/${this.#poolpilot.cluster.primary.spec.endpoint.database}`;
    this.#poolpilot.clients.front({ name: this.name, listening: true, url });
    return url;
  }

  /** Clients finish the transaction in flight, then are closed with 57P01. */
  drain(graceMs: number): Promise<boolean> {
    this.#poolpilot.clients.front({ name: this.name, listening: false, url: null });
    return this.listener.drain(graceMs);
  }

  close(): Promise<void> {
    this.#poolpilot.clients.front({ name: this.name, listening: false, url: null });
    return this.listener.close();
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
