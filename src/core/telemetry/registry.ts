import type { Logger } from '../logger.js';
import {
  type Audience,
  everyInterval,
  Sampler,
  type SamplerInfo,
  type SampleSource,
  type SampleStream,
  type TakeSample,
} from './sampler.js';

/**
 * Where the samples of a (stream, interval) come from when the cluster shares them: one instance
 * takes them with `take`, every instance receives them. `leader` names the instance taking them.
 */
export interface SharedSources {
  source<T>(stream: string, intervalMs: number, take: TakeSample<T>): SampleSource<T>;
  leader(stream: string, intervalMs: number): string | null;
}

export interface SubscribeOptions {
  /** The subscriptions this subscriber fans samples out to (a multiplexed group). */
  audience?: Audience;
  /** Sample this instance alone even when the cluster shares samples. */
  local?: boolean;
}

export interface IntervalLimits {
  minMs: number;
  maxMs: number;
  defaultMs: number;
  /**
   * The intervals samplers run at, ascending: a requested interval is rounded up to the next one.
   * Without steps an interval is only clamped to minMs..maxMs.
   */
  stepsMs?: readonly number[];
}

/**
 * Faster than 250 ms is noise for a dashboard and load for the server; slower than a minute is
 * not live. Eight steps bound the samplers to eight per stream whatever intervals are asked for
 * (one client asking for 1,500 distinct intervals used to get 1,500 samplers).
 */
export const INTERVAL_LIMITS: Readonly<IntervalLimits> = Object.freeze({
  minMs: 250,
  maxMs: 60_000,
  defaultMs: 1_000,
  stepsMs: Object.freeze([250, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000]),
});

/** The interval a sampler runs at for `requested`: clamped, then rounded up to a step (never faster than asked). */
export function clampInterval(requested: number | null | undefined, limits: IntervalLimits): number {
  if (requested === null || requested === undefined || !Number.isFinite(requested)) return limits.defaultMs;
  const clamped = Math.round(Math.min(limits.maxMs, Math.max(limits.minMs, requested)));
  if (!limits.stepsMs?.length) return clamped;
  return limits.stepsMs.find((step) => step >= clamped) ?? limits.stepsMs.at(-1)!;
}

/**
 * Hands out subscriptions to shared samplers: one sampler per (stream, interval step), created
 * for the first subscriber and dropped when its last subscriber leaves.
 */
export class SamplerRegistry {
  readonly limits: Readonly<IntervalLimits>;
  readonly #samplers = new Map<string, Sampler<unknown>>();
  readonly #log: Logger;
  #shared: SharedSources | null = null;
  #closed = false;

  constructor(log: Logger, limits: IntervalLimits = INTERVAL_LIMITS) {
    this.#log = log;
    this.limits = Object.freeze({ ...limits, ...(limits.stepsMs ? { stepsMs: [...limits.stepsMs] } : {}) });
  }

  /**
   * Subscribes to `stream` at the effective interval (clamped, rounded up to a step). `create` builds the sampling function for a
   * new sampler only, so any state it keeps (previous counters for rates) is per sampler; `shared` says
   * whether its samples are the cluster's (taken here only while this instance leads the stream).
   */
  subscribe<T>(
    stream: string,
    requestedMs: number | null | undefined,
    create: (intervalMs: number, shared: boolean) => TakeSample<T>,
    { audience, local = false }: SubscribeOptions = {},
  ): SampleStream<T> {
    if (this.#closed) throw new Error('telemetry is closed');
    const intervalMs = clampInterval(requestedMs, this.limits);
    const shared = local ? null : this.#shared;
    const key = `${stream}@${intervalMs}${shared ? '' : ':local'}`;
    let sampler = this.#samplers.get(key) as Sampler<T> | undefined;
    if (!sampler || sampler.stopped) {
      const onError = (error: unknown) => this.#log.warn({ err: error, stream }, 'sample failed');
      const take = create(intervalMs, shared !== null);
      const created: Sampler<T> = new Sampler<T>(
        stream,
        intervalMs,
        shared ? shared.source(stream, intervalMs, take) : everyInterval(intervalMs, take, onError),
        () => {
          if (this.#samplers.get(key) === created) this.#samplers.delete(key);
        },
        shared ? () => shared.leader(stream, intervalMs) : undefined,
      );
      sampler = created;
      this.#samplers.set(key, sampler as Sampler<unknown>);
    }
    return sampler.subscribe(audience);
  }

  /** From now on, new samplers (not local ones) get their samples from `shared`. */
  share(shared: SharedSources | null): void {
    this.#shared = shared;
  }

  /** The samplers running now. */
  samplers(): SamplerInfo[] {
    return [...this.#samplers.values()].map((s) => s.info());
  }

  close(): void {
    this.#closed = true;
    for (const sampler of [...this.#samplers.values()]) sampler.stop();
    this.#samplers.clear();
  }
}
