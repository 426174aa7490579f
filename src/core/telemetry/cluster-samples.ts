import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { InstancePools } from './pool-sample.js';
import type { SharedSources } from './registry.js';
import { everyInterval, type SampleSource, type TakeSample } from './sampler.js';
import { type LeaderMode, StreamLeader } from './stream-leader.js';

export interface ClusterSamplesOptions {
  /** Commands (leases, PUBLISH, pool reports); a second connection is made from it for SUBSCRIBE. */
  redis: Redis;
  /** INSTANCE_NAME. */
  instance: string;
  log: Logger;
  /** Key and channel prefix, so clusters can share one Redis. */
  prefix?: string;
  /** How often each instance reports its pool figures, ms. */
  reportMs?: number;
}

/** Lease of a stream's leader: one interval (at least 500 ms), renewed every quarter. */
export const leaseFor = (intervalMs: number) => Math.max(500, intervalMs);

const DEFAULT_REPORT_MS = 250;

/**
 * Telemetry shared by every instance on one Redis: for each (stream, interval) someone subscribes
 * to, one instance (the lease holder, stream-leader.ts) takes the samples and PUBLISHes them;
 * every instance with subscribers receives them from the channel. Pool figures are per instance,
 * so each instance also reports its own every `reportMs` (a key that expires with it), and the
 * pool stream's leader reads them all into one sample.
 */
export class ClusterSamples implements SharedSources {
  readonly instance: string;
  readonly #redis: Redis;
  readonly #subscriber: Redis;
  readonly #log: Logger;
  readonly #prefix: string;
  readonly #reportMs: number;
  readonly #channels = new Map<string, (message: string) => void>();
  readonly #leaders = new Map<string, StreamLeader>();
  /** Leases being released, awaited by close() before the connection goes. */
  readonly #releasing = new Set<Promise<void>>();
  #reporter: NodeJS.Timeout | null = null;

  constructor({
    redis,
    instance,
    log,
    prefix = 'poolpilot:',
    reportMs = DEFAULT_REPORT_MS,
  }: ClusterSamplesOptions) {
    this.#redis = redis;
    this.#subscriber = redis.duplicate();
    this.instance = instance;
    this.#log = log;
    this.#prefix = prefix;
    this.#reportMs = reportMs;
    this.#subscriber.on('message', (channel: string, message: string) =>
      this.#channels.get(channel)?.(message),
    );
    // ioredis logs unhandled connection errors itself; these are reported where commands fail.
    this.#subscriber.on('error', () => undefined);
  }

  source<T>(stream: string, intervalMs: number, take: TakeSample<T>): SampleSource<T> {
    const name = `${stream}@${intervalMs}`;
    const channel = `${this.#prefix}samples:${name}`;
    return (deliver) => {
      const onError = (error: unknown) => this.#log.warn({ err: error, stream }, 'sample failed');
      let sampling: { stop(): void } | null = null;
      const sampleHere = (publish: boolean) =>
        everyInterval(
          intervalMs,
          take,
          onError,
        )((sample) => {
          if (!publish) return deliver(sample);
          // Published samples come back through the channel, to this instance too; one that cannot
          // be published still reaches this instance's subscribers.
          this.#redis.publish(channel, encodeSample(sample)).catch(() => deliver(sample));
        });
      this.#channels.set(channel, (message) => deliver(decodeSample(message) as T));
      this.#subscriber.subscribe(channel).catch((error: unknown) => {
        this.#log.warn({ err: error, channel }, 'Redis SUBSCRIBE failed');
      });
      const leader = new StreamLeader({
        redis: this.#redis,
        key: `${this.#prefix}leader:${name}`,
        instance: this.instance,
        leaseMs: leaseFor(intervalMs),
        log: this.#log,
        onMode: (mode: LeaderMode) => {
          sampling?.stop();
          sampling = mode === 'follower' ? null : sampleHere(mode === 'leader');
          this.#log.debug({ stream: name, mode }, 'telemetry stream mode');
        },
      });
      this.#leaders.set(name, leader);
      leader.start();
      return {
        stop: () => {
          sampling?.stop();
          sampling = null;
          if (this.#leaders.get(name) === leader) this.#leaders.delete(name);
          const released = leader.stop().finally(() => this.#releasing.delete(released));
          this.#releasing.add(released);
          this.#channels.delete(channel);
          this.#subscriber.unsubscribe(channel).catch(() => undefined);
        },
      };
    };
  }

  leader(stream: string, intervalMs: number): string | null {
    return this.#leaders.get(`${stream}@${intervalMs}`)?.holder ?? null;
  }

  /** Reports this instance's pool figures every `reportMs` until closed. */
  reportPools(read: () => InstancePools): void {
    const key = `${this.#prefix}pools:${this.instance}`;
    const report = () => {
      this.#redis
        .multi()
        // Expires after three missed reports: a dead instance drops out of the cluster's figures.
        .set(key, JSON.stringify(read()), 'PX', this.#reportMs * 3)
        .sadd(`${this.#prefix}pools`, this.instance)
        .exec()
        .catch(() => undefined);
    };
    report();
    this.#reporter = setInterval(report, this.#reportMs);
    this.#reporter.unref();
  }

  /** Every live instance's last pool report; `own` (fresh) stands for this instance's. */
  async readPools(own: InstancePools): Promise<InstancePools[]> {
    try {
      const names = (await this.#redis.smembers(`${this.#prefix}pools`)).filter((n) => n !== this.instance);
      if (names.length === 0) return [own];
      const reports = await this.#redis.mget(names.map((n) => `${this.#prefix}pools:${n}`));
      const gone = names.filter((_n, i) => reports[i] === null);
      if (gone.length) await this.#redis.srem(`${this.#prefix}pools`, ...gone);
      const others = reports
        .filter((r): r is string => r !== null)
        .map((r) => JSON.parse(r) as InstancePools);
      return [own, ...others].sort((a, b) => a.instance.localeCompare(b.instance));
    } catch {
      return [own];
    }
  }

  async close(): Promise<void> {
    if (this.#reporter) clearInterval(this.#reporter);
    this.#reporter = null;
    await Promise.all([...this.#leaders.values()].map((l) => l.stop()));
    this.#leaders.clear();
    await Promise.all(this.#releasing);
    await Promise.all([
      this.#redis
        .multi()
        .del(`${this.#prefix}pools:${this.instance}`)
        .srem(`${this.#prefix}pools`, this.instance)
        .exec()
        .catch(() => undefined),
      this.#subscriber.quit().catch(() => undefined),
    ]);
  }
}

/** Samples travel as JSON; their `at` (a Date) comes back as one. */
export function encodeSample(sample: unknown): string {
  return JSON.stringify(sample);
}

export function decodeSample(message: string): unknown {
  return JSON.parse(message, (key, value) =>
    key === 'at' && typeof value === 'string' ? new Date(value) : value,
  );
}
