import { ErrorCode, PoolpilotError } from '../errors.js';
import { type LatencySummary, WindowedHistogram } from '../histogram.js';

export interface QueueOptions {
  /** Complex statements running at once (COMPLEX_QUEUE_CONCURRENCY). */
  concurrency: number;
  /** Statements allowed to wait (COMPLEX_QUEUE_MAX); one more is refused at once. */
  max: number;
  /** Longest wait before a statement is refused (COMPLEX_QUEUE_TIMEOUT_MS). */
  timeoutMs: number;
}

export interface QueueState {
  /** Statements waiting. */
  depth: number;
  running: number;
  concurrency: number;
  max: number;
  timeoutMs: number;
  /** How long the oldest waiting statement has waited so far. */
  oldestWaitMs: number;
  enqueued: number;
  completed: number;
  failed: number;
  /** Refused because the queue was full. */
  rejected: number;
  /** Refused after waiting COMPLEX_QUEUE_TIMEOUT_MS. */
  timedOut: number;
  /** Left the queue because the caller went away. */
  cancelled: number;
  wait: LatencySummary;
  waitP95Ms: number;
}

interface Waiter {
  enqueuedAt: number;
  start: () => void;
  fail: (error: Error) => void;
}

/**
 * The complex-query queue: at most `concurrency` tasks run, up to `max` wait in FIFO order, and a
 * waiter that waits `timeoutMs` is refused with QUEUE_FULL. A slot is released when its task
 * settles, whatever the outcome.
 */
export class ComplexQueue {
  readonly #options: QueueOptions;
  readonly #waiting: Waiter[] = [];
  readonly #wait = new WindowedHistogram();
  #running = 0;
  #closed = false;
  #counts = { enqueued: 0, completed: 0, failed: 0, rejected: 0, timedOut: 0, cancelled: 0 };

  constructor(options: QueueOptions) {
    this.#options = { ...options };
  }

  /** Runs `task` when a slot is free; resolves with its value and how long it waited. */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<{ value: T; waitMs: number }> {
    const slot = await this.enter(signal);
    try {
      const value = await task();
      slot.leave(true);
      return { value, waitMs: slot.waitMs };
    } catch (error) {
      slot.leave(false);
      throw error;
    }
  }

  /**
   * Waits for a slot and holds it until `leave` (for a caller whose statement ends later, such as
   * a wire client's, when the server says it is done). `leave` is safe to call more than once.
   */
  async enter(signal?: AbortSignal): Promise<{ waitMs: number; leave: (ok: boolean) => void }> {
    const waitMs = await this.#slot(signal);
    let held = true;
    return {
      waitMs,
      leave: (ok) => {
        if (!held) return;
        held = false;
        if (ok) this.#counts.completed += 1;
        else this.#counts.failed += 1;
        this.#running -= 1;
        this.#next();
      },
    };
  }

  state(): QueueState {
    const wait = this.#wait.summary();
    const oldest = this.#waiting[0];
    return {
      depth: this.#waiting.length,
      running: this.#running,
      concurrency: this.#options.concurrency,
      max: this.#options.max,
      timeoutMs: this.#options.timeoutMs,
      oldestWaitMs: oldest ? performance.now() - oldest.enqueuedAt : 0,
      ...this.#counts,
      wait,
      waitP95Ms: wait.p95Ms,
    };
  }

  /** Refuses everything waiting and everything to come; running tasks finish. */
  close(): void {
    this.#closed = true;
    for (const waiter of this.#waiting.splice(0)) {
      waiter.fail(new PoolpilotError(ErrorCode.DbUnavailable, 'poolpilot is shutting down'));
    }
  }

  #slot(signal?: AbortSignal): Promise<number> {
    if (this.#closed)
      return Promise.reject(new PoolpilotError(ErrorCode.DbUnavailable, 'poolpilot is shutting down'));
    if (signal?.aborted) return Promise.reject(cancelled());
    this.#counts.enqueued += 1;
    if (this.#running < this.#options.concurrency && this.#waiting.length === 0) {
      this.#running += 1;
      this.#wait.record(0);
      return Promise.resolve(0);
    }
    if (this.#waiting.length >= this.#options.max) {
      this.#counts.rejected += 1;
      return Promise.reject(
        new PoolpilotError(
          ErrorCode.QueueFull,
          `the complex-query queue is full: ${this.#running} running, ${this.#waiting.length} waiting ` +
            `(COMPLEX_QUEUE_CONCURRENCY=${this.#options.concurrency}, COMPLEX_QUEUE_MAX=${this.#options.max})`,
          { details: { running: this.#running, depth: this.#waiting.length } },
        ),
      );
    }
    return new Promise<number>((resolve, reject) => {
      const enqueuedAt = performance.now();
      const leave = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const index = this.#waiting.indexOf(waiter);
        if (index !== -1) this.#waiting.splice(index, 1);
      };
      const onAbort = () => {
        leave();
        this.#counts.cancelled += 1;
        reject(cancelled());
      };
      const timer = setTimeout(() => {
        leave();
        this.#counts.timedOut += 1;
        const waited = Math.round(performance.now() - enqueuedAt);
        this.#wait.record(waited);
        reject(
          new PoolpilotError(
            ErrorCode.QueueFull,
            `waited ${waited} ms in the complex-query queue without a free slot ` +
              `(COMPLEX_QUEUE_TIMEOUT_MS=${this.#options.timeoutMs}, ${this.#running} running)`,
            { details: { waitedMs: waited } },
          ),
        );
      }, this.#options.timeoutMs);
      const waiter: Waiter = {
        enqueuedAt,
        start: () => {
          leave();
          const waited = performance.now() - enqueuedAt;
          this.#wait.record(waited);
          resolve(waited);
        },
        fail: (error) => {
          leave();
          reject(error);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  #next(): void {
    while (this.#running < this.#options.concurrency && this.#waiting.length > 0) {
      this.#running += 1;
      this.#waiting[0]!.start();
    }
  }
}

function cancelled(): PoolpilotError {
  return new PoolpilotError(ErrorCode.Cancelled, 'cancelled while waiting in the complex-query queue');
}
