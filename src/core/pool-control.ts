import type { ClientRegistry } from './clients/index.js';
import { ErrorCode, PoolpilotError } from './errors.js';
import type { Cluster, Target } from './pool/index.js';

/** What an action did, per target it touched. */
export interface ControlResult {
  targets: string[];
  /** Server connections closed at once or marked to close when they come back. */
  connections: number;
  /** Wire clients disconnected. */
  clients: number;
}

/**
 * PgBouncer's admin actions on the pools, for every control plane (the wire admin console,
 * GraphQL): a name picks one target (`primary`, `replica-1`), the served database's name or no
 * name picks every target.
 */
export class PoolControl {
  readonly #cluster: Cluster;
  readonly #clients: ClientRegistry;

  constructor(cluster: Cluster, clients: ClientRegistry) {
    this.#cluster = cluster;
    this.#clients = clients;
  }

  /** The database wire clients connect to: naming it means every target. */
  get database(): string {
    return this.#cluster.primary.spec.endpoint.database;
  }

  /** The targets `name` picks; BAD_USER_INPUT when it picks none. */
  select(name?: string | null): Target[] {
    if (!name || name === this.database) return this.#cluster.targets;
    const target = this.#cluster.target(name);
    if (!target) {
      throw new PoolpilotError(
        ErrorCode.BadUserInput,
        `no such database: ${name} (expected ${[this.database, ...this.#cluster.targets.map((t) => t.name)].join(', ')})`,
        { details: { sqlstate: '3D000' } },
      );
    }
    return [target];
  }

  /**
   * Stops handing out connections of the targets; resolves once every connection they had lent
   * out came back (units of work in flight finish, new ones wait). BAD_USER_INPUT when they are
   * all paused already.
   */
  async pause(name?: string | null): Promise<ControlResult> {
    const targets = this.select(name);
    if (targets.every((t) => t.pool.paused)) {
      throw new PoolpilotError(ErrorCode.BadUserInput, `already paused: ${describe(targets)}`, {
        details: { sqlstate: '55000' },
      });
    }
    await Promise.all(targets.map((t) => t.pool.pause()));
    return { targets: targets.map((t) => t.name), connections: 0, clients: 0 };
  }

  /** BAD_USER_INPUT when none of the targets is paused. */
  resume(name?: string | null): ControlResult {
    const targets = this.select(name);
    if (!targets.some((t) => t.pool.paused)) {
      throw new PoolpilotError(ErrorCode.BadUserInput, `not paused: ${describe(targets)}`, {
        details: { sqlstate: '55000' },
      });
    }
    for (const t of targets) t.pool.resume();
    return { targets: targets.map((t) => t.name), connections: 0, clients: 0 };
  }

  /** Closes every server connection of the targets: idle ones now, lent ones when they come back. */
  reconnect(name?: string | null): ControlResult {
    const targets = this.select(name);
    const connections = targets.reduce((sum, t) => sum + t.pool.reconnect(), 0);
    return { targets: targets.map((t) => t.name), connections, clients: 0 };
  }

  /**
   * PgBouncer's KILL: pauses the targets (new units of work wait for RESUME), disconnects the
   * wire clients that hold one of their connections (every wire client when every target is
   * named) and closes their server connections.
   */
  kill(name?: string | null): ControlResult {
    const targets = this.select(name);
    const all = targets.length === this.#cluster.targets.length;
    const names = new Set(targets.map((t) => t.name));
    for (const t of targets) void t.pool.pause();
    const clients = this.#clients.killWhere(
      (c) => all || (c.target !== null && names.has(c.target)),
      `KILL ${name ?? ''}`.trim(),
    );
    const connections = targets.reduce((sum, t) => sum + t.pool.reconnect(), 0);
    return { targets: [...names], connections, clients };
  }

  /** Disconnects one wire client (SHOW CLIENTS' id); BAD_USER_INPUT when there is none. */
  killClient(id: number): void {
    if (!this.#clients.kill(id, `KILL_CLIENT ${id}`)) {
      throw new PoolpilotError(ErrorCode.BadUserInput, `client not found: ${id}`, {
        details: { sqlstate: '42704' },
      });
    }
  }
}

function describe(targets: Target[]): string {
  return targets.map((t) => t.name).join(', ');
}
