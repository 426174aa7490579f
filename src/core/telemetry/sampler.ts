import type { Logger } from '../logger.js';

/**
 * One timer taking samples of one stream at one interval, shared by every subscriber. It starts
 * with the first subscriber and stops after the last, so the work done per interval (a query, a
 * read of /proc) does not grow with the number of people watching.
 */

/** Where a sample can come from: `take` gets the previous sample to compute rates against. */
export type TakeSample<T> = (previous: T | null) => Promise<T>;

export interface SamplerInfo {
  stream: string;
  intervalMs: number;
  subscribers: number;
  samplesTaken: number;
  /** Samples handed to the current subscribers. */
  delivered: number;
  /** Samples replaced by a newer one before a slow subscriber read them. */
  superseded: number;
  startedAt: Date;
}

const sum = <T>(items: Iterable<T>, pick: (item: T) => number) => {
  let total = 0;
  for (const item of items) total += pick(item);
  return total;
};

export class Sampler<T> {
  readonly stream: string;
  readonly intervalMs: number;
  readonly startedAt = new Date();
  readonly #take: TakeSample<T>;
  readonly #onStop: () => void;
  readonly #log: Logger;
  readonly #subscribers = new Set<SampleStream<T>>();
  #latest: T | null = null;
  #timer: NodeJS.Timeout | null = null;
  #started = false;
  #stopped = false;
  #samplesTaken = 0;

  constructor(stream: string, intervalMs: number, take: TakeSample<T>, onStop: () => void, log: Logger) {
    this.stream = stream;
    this.intervalMs = intervalMs;
    this.#take = take;
    this.#onStop = onStop;
    this.#log = log;
  }

  get samplesTaken(): number {
    return this.#samplesTaken;
  }

  get subscribers(): number {
    return this.#subscribers.size;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  info(): SamplerInfo {
    return {
      stream: this.stream,
      intervalMs: this.intervalMs,
      subscribers: this.#subscribers.size,
      samplesTaken: this.#samplesTaken,
      delivered: sum(this.#subscribers, (s) => s.delivered),
      superseded: sum(this.#subscribers, (s) => s.superseded),
      startedAt: this.startedAt,
    };
  }

  subscribe(): SampleStream<T> {
    if (this.#stopped) throw new Error(`sampler ${this.stream}@${this.intervalMs} is stopped`);
    const stream = new SampleStream<T>(() => this.#unsubscribe(stream));
    this.#subscribers.add(stream);
    // A late joiner gets the current picture at once instead of waiting up to one interval.
    if (this.#latest !== null) stream.push(this.#latest);
    if (!this.#started) {
      this.#started = true;
      this.#tick();
    }
    return stream;
  }

  /** Ends every subscription (service shutdown). */
  stop(): void {
    for (const stream of [...this.#subscribers]) stream.end();
    this.#halt();
  }

  #unsubscribe(stream: SampleStream<T>): void {
    this.#subscribers.delete(stream);
    if (this.#subscribers.size === 0) this.#halt();
  }

  #halt(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#onStop();
  }

  #tick(): void {
    const started = performance.now();
    this.#timer = null;
    this.#take(this.#latest)
      .then((sample) => {
        this.#samplesTaken += 1;
        if (this.#stopped) return;
        this.#latest = sample;
        for (const stream of this.#subscribers) stream.push(sample);
      })
      .catch((error: unknown) => {
        this.#log.warn({ err: error, stream: this.stream }, 'sample failed');
      })
      .finally(() => {
        if (this.#stopped) return;
        // Fixed rate, never overlapping: a slow sample delays the next one rather than stacking up.
        const wait = Math.max(0, this.intervalMs - (performance.now() - started));
        this.#timer = setTimeout(() => this.#tick(), wait);
        this.#timer.unref();
      });
  }
}

/**
 * One subscriber's view of a sampler: an async iterator holding at most one undelivered sample.
 * A consumer slower than the interval gets the newest sample when it asks, never a backlog, so a
 * subscriber that stops reading costs one sample of memory however long it stays.
 */
export class SampleStream<T> implements AsyncIterableIterator<T> {
  #pending: { sample: T } | null = null;
  #waiter: ((result: IteratorResult<T>) => void) | null = null;
  #done = false;
  #delivered = 0;
  #superseded = 0;
  readonly #onReturn: () => void;

  constructor(onReturn: () => void) {
    this.#onReturn = onReturn;
  }

  /** Samples handed to the consumer. */
  get delivered(): number {
    return this.#delivered;
  }

  /** Samples replaced by a newer one before the consumer asked for them. */
  get superseded(): number {
    return this.#superseded;
  }

  /** Samples held for the consumer: 0 or 1. */
  get buffered(): number {
    return this.#pending ? 1 : 0;
  }

  push(sample: T): void {
    if (this.#done) return;
    if (this.#waiter) {
      const resolve = this.#waiter;
      this.#waiter = null;
      this.#delivered += 1;
      resolve({ value: sample, done: false });
      return;
    }
    if (this.#pending) this.#superseded += 1;
    this.#pending = { sample };
  }

  /** Ends the stream from the producer's side. */
  end(): void {
    if (this.#done) return;
    this.#done = true;
    this.#pending = null;
    this.#waiter?.({ value: undefined, done: true });
    this.#waiter = null;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#pending) {
      const { sample } = this.#pending;
      this.#pending = null;
      this.#delivered += 1;
      return Promise.resolve({ value: sample, done: false });
    }
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  return(): Promise<IteratorResult<T>> {
    if (!this.#done) {
      this.end();
      this.#onReturn();
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
