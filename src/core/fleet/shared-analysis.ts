import type { Logger } from '../logger.js';
import type { RedisLink } from './redis-link.js';

/** A lookup slower than this is given up: planning locally is the fallback, not a long wait. */
const LOOKUP_TIMEOUT_MS = 100;

/**
 * What the planner said about a statement shape, shared by every instance through Redis with
 * the local cache's time to live: a shape planned by one instance is not planned again by the
 * others. Only plan-derived answers are shared; every instance still parses each text itself
 * (whether a statement writes or locks is never taken from Redis). Unreachable Redis: misses.
 */
export class SharedAnalysis<T> {
  readonly #link: RedisLink;
  readonly #namespace: string;
  readonly #log: Logger;
  hits = 0;
  misses = 0;

  /** `namespace` tells servers apart (host:port/database): a plan is only valid for its database. */
  constructor(link: RedisLink, namespace: string, log: Logger) {
    this.#link = link;
    this.#namespace = namespace;
    this.#log = log;
  }

  async get(fingerprint: string): Promise<T | undefined> {
    if (!this.#link.up) return undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const raw = await Promise.race([
        this.#link.redis.get(this.#key(fingerprint)),
        new Promise<null>((resolve) => {
          timer = setTimeout(() => resolve(null), LOOKUP_TIMEOUT_MS);
        }),
      ]);
      if (raw === null) {
        this.misses += 1;
        return undefined;
      }
      this.hits += 1;
      return JSON.parse(raw) as T;
    } catch (error) {
      this.#log.debug({ err: error }, 'shared analysis lookup failed');
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  set(fingerprint: string, value: T, ttlMs: number): void {
    if (!this.#link.up || ttlMs <= 0) return;
    this.#link.redis
      .set(this.#key(fingerprint), JSON.stringify(value), 'PX', ttlMs)
      .catch((error: Error) => this.#log.debug({ err: error }, 'shared analysis store failed'));
  }

  #key(fingerprint: string): string {
    return `plan:{${this.#namespace}}:${fingerprint}`;
  }
}
