import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';

/** Every key and channel poolpilot uses in Redis starts with this, so one Redis can host other data. */
export const KEY_PREFIX = 'poolpilot:';

/** How long one Redis command may take before it counts as Redis being unreachable. */
const COMMAND_TIMEOUT_MS = 500;
const NOT_CONNECTED = 'not connected yet';
/** Reconnect attempts while Redis is away, at this pace. */
const RECONNECT_MS = 250;

export interface RedisLinkState {
  up: boolean;
  /** When `up` last changed. */
  since: Date;
  /** The last connection error while down; null when up. */
  reason: string | null;
}

/**
 * The connection to Redis the fleet coordinates through, and whether it answers. Commands fail
 * at once while it is away (no offline queue): every user of the link has a local fallback, and a
 * command replayed seconds later would act on stale figures.
 */
export class RedisLink {
  readonly redis: Redis;
  #up = false;
  #since = new Date();
  #reason: string | null = NOT_CONNECTED;
  readonly #log: Logger;
  readonly #listeners = new Set<(up: boolean) => void>();

  constructor(url: string, log: Logger) {
    this.#log = log;
    this.redis = new Redis(url, {
      keyPrefix: KEY_PREFIX,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: COMMAND_TIMEOUT_MS,
      connectTimeout: 2_000,
      retryStrategy: () => RECONNECT_MS,
      // The link reports its own state; ioredis would print every failed reconnect otherwise.
      showFriendlyErrorStack: false,
    });
    this.redis.on('ready', () => this.#set(true, null));
    this.redis.on('error', (error: Error) => {
      if (this.#up) this.#log.warn({ err: error }, 'redis error');
      this.#reason = error.message;
    });
    this.redis.on('close', () => this.#set(false, this.#reason ?? 'connection closed'));
  }

  /** Connects; resolves either way (the instance serves within its last share while Redis is away). */
  async connect(): Promise<void> {
    await this.redis.connect().catch((error: Error) => {
      // The 'error' event's message (ECONNREFUSED ...) says more than the rejection's.
      if (this.#reason === NOT_CONNECTED) this.#reason = error.message;
    });
  }

  get up(): boolean {
    return this.#up;
  }

  state(): RedisLinkState {
    return { up: this.#up, since: this.#since, reason: this.#up ? null : this.#reason };
  }

  /** Told when Redis becomes reachable or unreachable; returns the remover. */
  onChange(listener: (up: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** A second connection on the same server, for pub/sub (a subscribed connection runs nothing else). */
  duplicate(): Redis {
    return this.redis.duplicate();
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    this.redis.disconnect(false);
  }

  #set(up: boolean, reason: string | null): void {
    if (up === this.#up) return;
    this.#up = up;
    this.#since = new Date();
    this.#reason = reason;
    if (up) this.#log.info('redis reachable: coordinating with the other instances');
    else this.#log.warn({ reason }, 'redis unreachable: serving within the last connection share (degraded)');
    for (const listener of this.#listeners) listener(up);
  }
}
