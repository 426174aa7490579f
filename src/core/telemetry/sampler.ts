/**
 * One timer taking samples of one stream at one interval, shared by every subscriber. It starts
 * with the first subscriber and stops after the last, so the work done per interval (a query, a
 * read of /proc) does not grow with the number of people watching.
 */

/** Where a sample can come from: `take` gets the previous sample to compute rates against. */
export type TakeSample<T> = (previous: T | null) => Promise<T>;

/**
 * What drives a sampler: started with the first subscriber, it calls `deliver` with each new
 * sample until stopped. The local source is a timer calling `take`; a cluster source receives the
 * samples one elected instance takes (cluster-samples.ts).
 */
export type SampleSource<T> = (deliver: (sample: T) => void) => { stop(): void };

/**
 * Those a subscriber stands for when it fans each sample out further (the WebSocket layer's
 * multiplexed groups: one stream, many subscriptions). Read by `info()`, never written by the sampler.
 */
export interface Audience {
  readonly size: number;
  /** Samples handed to its members. */
  readonly delivered: number;
  /** Samples a slow member never got because a newer one replaced them. */
  readonly superseded: number;
}

/** Takes a sample every `intervalMs` with `take`, never two at once: a slow sample delays the next. */
export function everyInterval<T>(
  intervalMs: number,
  take: TakeSample<T>,
  onError: (error: unknown) => void,
): SampleSource<T> {
  return (deliver) => {
    let previous: T | null = null;
    let timer: NodeJS.Timeout | null = null;
    let stopped = false;
    const tick = () => {
      const started = performance.now();
      timer = null;
      take(previous)
        .then((sample) => {
          previous = sample;
          if (!stopped) deliver(sample);
        })
        .catch(onError)
        .finally(() => {
          if (stopped) return;
          const wait = Math.max(0, intervalMs - (performance.now() - started));
          timer = setTimeout(tick, wait);
          timer.unref();
        });
    };
    tick();
    return {
      stop: () => {
        stopped = true;
        if (timer) clearTimeout(timer);
        timer = null;
      },
    };
  };
}

export interface SamplerInfo {
  stream: string;
  intervalMs: number;
  /** Subscriptions served, counting every member of a multiplexed group. */
  subscribers: number;
  /** Consumers each sample is handed to: a multiplexed group of subscriptions is one. */
  groups: number;
  /** Samples received: taken here, or taken by the cluster's leader for this stream. */
  samplesTaken: number;
  /** Samples handed to consumers since the start (one per sample per group, however many members). */
  handedOut: number;
  /** The instance taking the samples when the stream is cluster-wide; null when sampled here alone. */
  leader: string | null;
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
  readonly #source: SampleSource<T>;
  readonly #onStop: () => void;
  readonly #leader: () => string | null;
  readonly #subscribers = new Set<SampleStream<T>>();
  #latest: T | null = null;
  #running: { stop(): void } | null = null;
  #started = false;
  #stopped = false;
  #samplesTaken = 0;
  #handedOut = 0;

  constructor(
    stream: string,
    intervalMs: number,
    source: SampleSource<T>,
    onStop: () => void,
    leader: () => string | null = () => null,
  ) {
    this.stream = stream;
    this.intervalMs = intervalMs;
    this.#source = source;
    this.#onStop = onStop;
    this.#leader = leader;
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
      subscribers: sum(this.#subscribers, (s) => s.audience?.size ?? 1),
      groups: this.#subscribers.size,
      samplesTaken: this.#samplesTaken,
      handedOut: this.#handedOut,
      leader: this.#leader(),
      delivered: sum(this.#subscribers, (s) => s.audience?.delivered ?? s.delivered),
      superseded: sum(this.#subscribers, (s) => s.audience?.superseded ?? s.superseded),
      startedAt: this.startedAt,
    };
  }

  subscribe(audience?: Audience): SampleStream<T> {
    if (this.#stopped) throw new Error(`sampler ${this.stream}@${this.intervalMs} is stopped`);
    const stream = new SampleStream<T>(
      () => this.#unsubscribe(stream),
      audience,
      () => {
        this.#handedOut += 1;
      },
    );
    this.#subscribers.add(stream);
    // A late joiner gets the current picture at once instead of waiting up to one interval.
    if (this.#latest !== null) stream.push(this.#latest);
    if (!this.#started) {
      this.#started = true;
      this.#running = this.#source((sample) => this.#deliver(sample));
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
    this.#running?.stop();
    this.#running = null;
    this.#onStop();
  }

  #deliver(sample: T): void {
    this.#samplesTaken += 1;
    if (this.#stopped) return;
    this.#latest = sample;
    for (const stream of this.#subscribers) stream.push(sample);
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
  readonly #onHandOut: () => void;
  /** Set when this stream feeds a multiplexed group: the sampler counts its members, not it. */
  readonly audience: Audience | undefined;

  constructor(onReturn: () => void, audience?: Audience, onHandOut: () => void = () => undefined) {
    this.#onReturn = onReturn;
    this.audience = audience;
    this.#onHandOut = onHandOut;
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
      this.#onHandOut();
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
      this.#onHandOut();
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
