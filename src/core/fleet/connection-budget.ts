import type { Logger } from '../logger.js';
import type { Pool } from '../pool/index.js';
import { RENEW_LEASE } from './budget-script.js';
import type { RedisLink } from './redis-link.js';

/** How often an instance renews its leases (and publishes its demand). */
export const RENEW_MS = 500;
/** A lease not renewed for this long is dropped, and its connections go to the others. */
export const LEASE_MS = 3_000;
/** No renewal by anyone for this long: the figures are stale, nobody grows for one lease time. */
export const QUIET_MS = 1_500;

/** One target's pool under a fleet-wide budget. */
export interface BudgetedPool {
  /** Identifies the server across instances (host:port/database): the same key on every instance. */
  key: string;
  pool: Pool;
}

/** This instance's share of one target's budget, as last granted. */
export interface ShareState {
  target: string;
  /** The fleet-wide maximum (DB_POOL_SIZE). */
  budget: number;
  /** Connections this instance may hold now. */
  share: number;
  /** What an even split by demand would give it; the grant catches up as others give back. */
  fair: number;
  /** Live instances sharing the budget, at the last renewal. */
  instances: number;
  /** False for one lease time after a gap in coordination: nobody grows meanwhile. */
  settled: boolean;
  /** When the share was last renewed; null before the first renewal. */
  renewedAt: Date | null;
}

interface Share {
  grant: number;
  fair: number;
  instances: number;
  settled: boolean;
  renewedAt: Date | null;
}

type RenewCommand = (
  held: string,
  demand: string,
  expiry: string,
  clock: string,
  instance: string,
  demandNow: number,
  open: number,
  previous: number,
  budget: number,
  leaseMs: number,
  quietMs: number,
) => Promise<[number, number, number, number]>;

/**
 * Keeps the server connections of every instance within one budget per target. Each instance
 * leases a share (see budget-script.ts) every RENEW_MS and caps its pool to it; an instance that
 * dies stops renewing and its share goes back to the others after LEASE_MS. While Redis is
 * unreachable an instance keeps its last share and never grows; it starts with none, so a new
 * instance opens no connection before Redis granted it some.
 */
export class ConnectionBudget {
  readonly #link: RedisLink;
  readonly #instance: string;
  readonly #budget: number;
  readonly #pools: BudgetedPool[];
  readonly #shares = new Map<string, Share>();
  readonly #log: Logger;
  #timer: NodeJS.Timeout | null = null;
  /** The renewal in flight, if any: one at a time, and `release` waits for it. */
  #renewing: Promise<void> | null = null;

  constructor(link: RedisLink, instance: string, budget: number, pools: BudgetedPool[], log: Logger) {
    this.#link = link;
    this.#instance = instance;
    this.#budget = budget;
    this.#pools = pools;
    this.#log = log;
    link.redis.defineCommand('poolpilotRenewLease', { numberOfKeys: 4, lua: RENEW_LEASE });
    for (const { key, pool } of pools) {
      this.#shares.set(key, { grant: 0, fair: 0, instances: 0, settled: false, renewedAt: null });
      pool.limit(0);
    }
  }

  /** Renews once (so a reachable Redis grants shares before the pools warm), then every RENEW_MS. */
  async start(): Promise<void> {
    await this.renew();
    this.#timer = setInterval(() => void this.renew(), RENEW_MS);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Renews every target's lease; on failure keeps the last shares (never grows). */
  renew(): Promise<void> {
    if (this.#renewing) return this.#renewing;
    if (!this.#link.up) return Promise.resolve();
    this.#renewing = this.#renew().finally(() => {
      this.#renewing = null;
    });
    return this.#renewing;
  }

  async #renew(): Promise<void> {
    const renew = (this.#link.redis as unknown as { poolpilotRenewLease: RenewCommand }).poolpilotRenewLease;
    const answers = await Promise.all(
      this.#pools.map(({ key, pool }) => {
        const previous = this.#shares.get(key)!.grant;
        return renew
          .call(
            this.#link.redis,
            `budget:{${key}}:held`,
            `budget:{${key}}:demand`,
            `budget:{${key}}:expiry`,
            `budget:{${key}}:clock`,
            this.#instance,
            pool.demand,
            pool.serverConnections,
            previous,
            this.#budget,
            LEASE_MS,
            QUIET_MS,
          )
          .then(
            (answer) => ({ key, pool, answer }),
            (error: Error) => {
              this.#log.debug({ err: error, target: key }, 'lease renewal failed; keeping the last share');
              return null;
            },
          );
      }),
    );
    for (const result of answers) {
      if (!result) continue;
      const [grant, fair, instances, settled] = result.answer;
      const share = this.#shares.get(result.key)!;
      if (grant !== share.grant) {
        this.#log.debug(
          { target: result.key, from: share.grant, to: grant, fair, instances },
          'share changed',
        );
      }
      this.#shares.set(result.key, {
        grant,
        fair,
        instances,
        settled: settled === 1,
        renewedAt: new Date(),
      });
      result.pool.limit(grant);
    }
  }

  /** Gives every share back (the pools are closed): the others may use it at once. */
  async release(): Promise<void> {
    await this.#renewing;
    if (!this.#link.up) return;
    const multi = this.#link.redis.multi();
    for (const { key } of this.#pools) {
      multi.hdel(`budget:{${key}}:held`, this.#instance);
      multi.hdel(`budget:{${key}}:demand`, this.#instance);
      multi.zrem(`budget:{${key}}:expiry`, this.#instance);
    }
    await multi.exec().catch(() => undefined);
  }

  state(): ShareState[] {
    return this.#pools.map(({ key, pool }) => {
      const share = this.#shares.get(key)!;
      return {
        target: pool.name,
        budget: this.#budget,
        share: share.grant,
        fair: share.fair,
        instances: share.instances,
        settled: share.settled,
        renewedAt: share.renewedAt,
      };
    });
  }
}
