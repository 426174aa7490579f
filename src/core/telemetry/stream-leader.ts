import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';

/**
 * Which instance samples a stream for the whole cluster: the one holding a Redis lease
 * (`SET key name NX PX lease`), renewed every quarter lease while it lives. When the holder dies
 * its lease runs out and the next instance to ask takes it: samples resume within a lease and a
 * quarter. A holder that stops (last subscriber gone, shutdown) releases the lease at once.
 *
 * While Redis cannot be reached, every instance samples alone (`alone`) so its own subscribers
 * keep getting samples; when Redis answers again they elect one leader again.
 */
export type LeaderMode = 'leader' | 'follower' | 'alone';

export interface StreamLeaderOptions {
  redis: Redis;
  key: string;
  instance: string;
  leaseMs: number;
  onMode: (mode: LeaderMode) => void;
  log: Logger;
}

// Renew or release only a lease this instance still holds: it may have expired and gone to another.
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

export class StreamLeader {
  readonly #options: StreamLeaderOptions;
  #mode: LeaderMode | null = null;
  #holder: string | null = null;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;

  constructor(options: StreamLeaderOptions) {
    this.#options = options;
  }

  /** The instance holding the lease, as last seen (this one's name when it leads). */
  get holder(): string | null {
    return this.#holder;
  }

  get mode(): LeaderMode | null {
    return this.#mode;
  }

  start(): void {
    void this.#round();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#mode === 'leader') {
      const { redis, key, instance } = this.#options;
      await redis.eval(RELEASE, 1, key, instance).catch(() => undefined);
    }
  }

  async #round(): Promise<void> {
    const { redis, key, instance, leaseMs, log } = this.#options;
    let mode: LeaderMode;
    try {
      if (this.#mode === 'leader') {
        const renewed = await redis.eval(RENEW, 1, key, instance, String(leaseMs));
        mode = renewed === 1 ? 'leader' : 'follower';
      } else {
        // NX GET: takes the lease when free, else says who holds it — one round trip either way.
        const held = (await redis.set(key, instance, 'PX', leaseMs, 'NX', 'GET')) as string | null;
        mode = held === null || held === instance ? 'leader' : 'follower';
        this.#holder = held ?? instance;
      }
    } catch (error) {
      if (this.#mode !== 'alone') log.warn({ err: error, key }, 'Redis unreachable: sampling alone');
      mode = 'alone';
      this.#holder = instance;
    }
    if (this.#stopped) {
      if (mode === 'leader') await redis.eval(RELEASE, 1, key, instance).catch(() => undefined);
      return;
    }
    if (mode === 'leader') this.#holder = instance;
    if (mode !== this.#mode) {
      this.#mode = mode;
      this.#options.onMode(mode);
    }
    this.#timer = setTimeout(() => void this.#round(), Math.max(25, Math.floor(leaseMs / 4)));
    this.#timer.unref();
  }
}
