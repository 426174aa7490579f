import type { Pool } from '../pool/index.js';

/**
 * The primary's current WAL insert position, asked for on behalf of many writers at once: any
 * reading taken after a commit finished is at or past that commit, so writers that finish while
 * a reading is under way share the next one. One small query per round, whatever the write rate.
 */
export class WalPosition {
  /** The pool of the server writes go to now: after a failover, the promoted one. */
  readonly #pool: () => Pool;
  readonly #sql: string;
  /** The reading under way, and the one that writers arriving meanwhile will share. */
  #inFlight: Promise<string | null> | null = null;
  #queued: Promise<string | null> | null = null;

  constructor(pool: () => Pool, sql: string) {
    this.#pool = pool;
    this.#sql = sql;
  }

  /** A position at or after every commit that finished before this call. */
  after(): Promise<string | null> {
    if (this.#inFlight === null) return this.#start();
    // The reading under way may have started before the caller's commit: share the next one.
    this.#queued ??= this.#inFlight.then(() => {
      this.#queued = null;
      return this.#start();
    });
    return this.#queued;
  }

  #start(): Promise<string | null> {
    const reading: Promise<string | null> = this.#read().finally(() => {
      if (this.#inFlight === reading) this.#inFlight = null;
    });
    this.#inFlight = reading;
    return reading;
  }

  async #read(): Promise<string | null> {
    try {
      const { rows } = await this.#pool().query(this.#sql);
      return (rows[0]?.lsn as string | null) ?? null;
    } catch {
      return null;
    }
  }
}
