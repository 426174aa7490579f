import type { Logger } from '../logger.js';
import { type Cluster, parseLsn, type Target } from '../pool/index.js';
import { REPLAY_POSITION } from './sql.js';

export interface ReplayWatchOptions {
  /** Between two readings of one replica's replay position while a write waits for it. */
  intervalMs: number;
  /** How long a wanted position keeps the watch going without a replica reaching it. */
  giveUpMs: number;
  now?: () => number;
}

interface Waiter {
  lsn: bigint;
  resolve: (replayed: boolean) => void;
}

interface Watched {
  target: Target;
  inFlight: boolean;
  timer: NodeJS.Timeout | null;
  lastStartedAt: number;
}

/**
 * Keeps the replicas' replay positions fresh while a write recorded through poolpilot (or a
 * causal token a caller waits on) has not been seen replayed: each replica is asked for
 * pg_last_wal_replay_lsn() every `intervalMs`, one reading in flight per replica, on the
 * control-plane pool, and not at all once every replica has caught up. The health check's
 * reading every HEALTH_CHECK_INTERVAL_MS stays the only one when nothing is pending, so an idle
 * or read-only poolpilot sends nothing more.
 */
export class ReplayWatch {
  readonly #options: ReplayWatchOptions;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #watched: Watched[];
  readonly #waiters = new Set<Waiter>();
  /** The highest position wanted, and when it was last asked for. */
  #wanted: bigint | null = null;
  #wantedAt = 0;
  #closed = false;
  /** Readings taken (for the measurement of what the watch costs). */
  polls = 0;

  constructor(cluster: Cluster, options: ReplayWatchOptions, log: Logger) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#log = log;
    this.#watched = cluster.replicas.map((target) => ({
      target,
      inFlight: false,
      timer: null,
      lastStartedAt: Number.NEGATIVE_INFINITY,
    }));
  }

  /**
   * A write ended at `lsn`: watch the replicas until one has replayed it (or giveUpMs passes).
   * The first reading comes `intervalMs` after the write, not at once: streaming replication
   * takes about that long, and a reading taken sooner would nearly always find it not replayed.
   */
  want(lsn: bigint): void {
    if (this.#closed || this.#watched.length === 0) return;
    if (this.#wanted === null || lsn > this.#wanted) this.#wanted = lsn;
    this.#wantedAt = this.#now();
    for (const w of this.#watched) this.#kick(w, this.#wantedAt + this.#options.intervalMs);
  }

  /**
   * Resolves true as soon as a replica is seen at or past `lsn`, false after `timeoutMs` (or when
   * `signal` aborts, or the watch closes).
   */
  waitFor(lsn: bigint, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.#watched.some((w) => replayed(w.target, lsn))) return Promise.resolve(true);
    if (timeoutMs <= 0 || this.#closed || signal?.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#waiters.delete(waiter);
        resolve(ok);
      };
      const waiter: Waiter = { lsn, resolve: done };
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(waiter);
      // A waiting caller is served by the first reading that shows it replayed: ask at once.
      for (const w of this.#watched) this.#kick(w, this.#now());
    });
  }

  close(): void {
    this.#closed = true;
    for (const w of this.#watched) if (w.timer) clearTimeout(w.timer);
    for (const waiter of [...this.#waiters]) waiter.resolve(false);
  }

  /**
   * Starts a reading of `w` at `earliest` but no sooner than `intervalMs` after the last one,
   * unless one is under way or already due.
   */
  #kick(w: Watched, earliest: number): void {
    if (w.inFlight || w.timer || !this.#behind(w)) return;
    const due = Math.max(earliest, w.lastStartedAt + this.#options.intervalMs) - this.#now();
    if (due <= 0) {
      void this.#poll(w);
      return;
    }
    w.timer = setTimeout(() => {
      w.timer = null;
      void this.#poll(w);
    }, due);
    w.timer.unref();
  }

  /** `w` is up and has not been seen at what is wanted (a write still in its give-up time, or a waiter). */
  #behind(w: Watched): boolean {
    if (this.#closed || !w.target.isUp) return false;
    const waiting = [...this.#waiters].some((waiter) => !replayed(w.target, waiter.lsn));
    if (waiting) return true;
    if (this.#wanted === null || this.#now() - this.#wantedAt > this.#options.giveUpMs) return false;
    return !replayed(w.target, this.#wanted);
  }

  async #poll(w: Watched): Promise<void> {
    if (!this.#behind(w)) return;
    w.inFlight = true;
    w.lastStartedAt = this.#now();
    this.polls += 1;
    try {
      const { rows } = await w.target.admin.query(REPLAY_POSITION);
      const lsn = (rows[0]?.replay_lsn as string | null) ?? null;
      advance(w.target, lsn);
      for (const waiter of [...this.#waiters]) if (replayed(w.target, waiter.lsn)) waiter.resolve(true);
    } catch (error) {
      // The health monitor judges the replica; the watch only stops asking it for now.
      this.#log.debug({ err: error, target: w.target.name }, 'replay position reading failed');
      w.inFlight = false;
      return;
    }
    w.inFlight = false;
    this.#kick(w, this.#now());
  }
}

/** Moves the replica's known replay position forward (a reading that comes in late never moves it back). */
function advance(target: Target, lsn: string | null): void {
  const r = target.replication;
  const next = parseLsn(lsn);
  if (!r || next === null) return;
  const known = parseLsn(r.replayLsn);
  if (known === null || next > known) target.replication = { ...r, replayLsn: lsn };
}

function replayed(target: Target, lsn: bigint): boolean {
  const at = parseLsn(target.replication?.replayLsn);
  return at !== null && at >= lsn;
}
