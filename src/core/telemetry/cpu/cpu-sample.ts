import { availableParallelism, loadavg } from 'node:os';
import { singleFlight } from '../single-flight.js';
import type { CpuReading, CpuSource, CpuSourceKind, CpuSourceProbe } from './source.js';

export interface CpuSample {
  at: Date;
  seq: number;
  intervalMs: number;
  source: CpuSourceKind;
  /** What was measured: container name, postmaster pid or cgroup path; null for `none`. */
  detail: string | null;
  /** Why each source tried before this one could not be used (all of them, for `none`). */
  skipped: string[];
  /** 100 = one core fully busy; up to 100 × cores. */
  percentOfOneCore: number | null;
  /** 0..100 of every core available to the server. */
  percentOfAllCores: number | null;
  /** Cores available to the server (its CPU limit when it has one). */
  cores: number | null;
  memoryBytes: number | null;
  /** The 1, 5 and 15 minute load averages of the host poolpilot runs on. */
  loadAverage: number[];
  hostCores: number;
}

export interface SourcedReading {
  source: CpuSource;
  skipped: string[];
  reading: CpuReading;
}

const NONE_RETRY_MS = 10_000;

/**
 * The sources in order of preference. The first that works is kept until a read fails; then
 * the list is tried again from the top. When none works the reasons are kept for a while so a
 * dashboard open all day does not probe every second.
 */
export class CpuSources {
  readonly #probes: CpuSourceProbe[];
  #current: { source: CpuSource; skipped: string[] } | null = null;
  #none: { reasons: string[]; at: number } | null = null;
  /** Samplers of several intervals reading at once share one reading (and one Docker call or query). */
  readonly read: () => Promise<SourcedReading | { reasons: string[] }> = singleFlight(() => this.#read());

  constructor(probes: CpuSourceProbe[]) {
    this.#probes = probes;
  }

  async #read(): Promise<SourcedReading | { reasons: string[] }> {
    const lost: string[] = [];
    if (this.#current) {
      try {
        return { ...this.#current, reading: await this.#current.source.read() };
      } catch (error) {
        lost.push(`${this.#current.source.kind}: ${(error as Error).message}`);
        this.#current = null;
      }
    }
    if (this.#none && Date.now() - this.#none.at < NONE_RETRY_MS) return { reasons: this.#none.reasons };
    const skipped: string[] = [...lost];
    for (const probe of this.#probes) {
      const found = await probe();
      if (typeof found === 'string') {
        skipped.push(found);
        continue;
      }
      try {
        const reading = await found.read();
        this.#current = { source: found, skipped };
        this.#none = null;
        return { source: found, skipped, reading };
      } catch (error) {
        skipped.push(`${found.kind}: ${(error as Error).message}`);
      }
    }
    this.#none = { reasons: skipped, at: Date.now() };
    return { reasons: skipped };
  }
}

/** Percent of one core between two readings: Docker's formula when the source gives system time. */
export function cpuPercent(before: CpuReading, after: CpuReading): number {
  const used = after.usageNs - before.usageNs;
  if (used <= 0) return 0;
  let percent = 0;
  if (before.systemNs !== null && after.systemNs !== null) {
    const system = after.systemNs - before.systemNs;
    percent = system > 0 ? (used / system) * after.onlineCpus * 100 : 0;
  } else {
    const wall = after.atNs - before.atNs;
    percent = wall > 0 ? (used / wall) * 100 : 0;
  }
  // A reading of many processes is not atomic: counters read a moment after the clock can make
  // a saturated server look busier than all its cores, which it cannot be.
  return Math.min(percent, after.onlineCpus * 100);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * CPU samples for one sampler. Percentages need two readings, so the first sample (and the
 * first after a change of source) takes a second reading `primeMs` later rather than making the
 * subscriber wait a whole interval.
 */
export function cpuSampleTaker(
  intervalMs: number,
  sources: CpuSources,
  primeMs = 200,
): () => Promise<CpuSample> {
  let previous: { key: string; reading: CpuReading } | null = null;
  let seq = 0;
  const keyOf = (s: CpuSource) => `${s.kind}:${s.detail}`;
  return async () => {
    let result = await sources.read();
    if ('reading' in result && previous?.key !== keyOf(result.source)) {
      previous = { key: keyOf(result.source), reading: result.reading };
      await sleep(primeMs);
      result = await sources.read();
    }
    const head = {
      at: new Date(),
      seq: ++seq,
      intervalMs,
      loadAverage: loadavg(),
      hostCores: availableParallelism(),
    };
    if (!('reading' in result)) {
      previous = null;
      return {
        ...head,
        source: 'none',
        detail: null,
        skipped: result.reasons,
        percentOfOneCore: null,
        percentOfAllCores: null,
        cores: null,
        memoryBytes: null,
      };
    }
    const key = keyOf(result.source);
    const percent = previous?.key === key ? cpuPercent(previous.reading, result.reading) : null;
    previous = { key, reading: result.reading };
    const cores = result.reading.onlineCpus;
    return {
      ...head,
      source: result.source.kind,
      detail: result.source.detail,
      skipped: result.skipped,
      percentOfOneCore: percent,
      percentOfAllCores: percent === null ? null : percent / cores,
      cores,
      memoryBytes: result.reading.memoryBytes,
    };
  };
}
