/**
 * A log-bucketed latency histogram (the HdrHistogram idea in a few lines): every bucket is 1%
 * wider than the one before, so any percentile it reports is within 1% of the true value, in
 * constant memory, whatever the number of samples.
 */
const MIN_MS = 0.001; // 1 µs: the resolution of the smallest bucket
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = Math.ceil(Math.log(3_600_000 / MIN_MS) / LOG_GROWTH) + 1; // up to one hour

export interface LatencySummary {
  count: number;
  meanMs: number;
  maxMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

export class Histogram {
  #counts = new Uint32Array(BUCKETS);
  #count = 0;
  #sum = 0;
  #max = 0;

  record(ms: number): void {
    const value = Math.max(ms, 0);
    const index =
      value <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(value / MIN_MS) / LOG_GROWTH));
    this.#counts[index] = (this.#counts[index] ?? 0) + 1;
    this.#count += 1;
    this.#sum += value;
    if (value > this.#max) this.#max = value;
  }

  get count(): number {
    return this.#count;
  }

  reset(): void {
    this.#counts.fill(0);
    this.#count = 0;
    this.#sum = 0;
    this.#max = 0;
  }

  /** Adds another histogram's samples into this one. */
  merge(other: Histogram): this {
    for (let i = 0; i < BUCKETS; i++) this.#counts[i] = (this.#counts[i] ?? 0) + (other.#counts[i] ?? 0);
    this.#count += other.#count;
    this.#sum += other.#sum;
    this.#max = Math.max(this.#max, other.#max);
    return this;
  }

  percentile(p: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i] ?? 0;
      // The bucket's upper edge, capped by the largest sample actually seen.
      if (seen >= rank) return Math.min(MIN_MS * GROWTH ** i, this.#max);
    }
    return this.#max;
  }

  summary(): LatencySummary {
    return {
      count: this.#count,
      meanMs: this.#count === 0 ? 0 : this.#sum / this.#count,
      maxMs: this.#max,
      p50Ms: this.percentile(50),
      p95Ms: this.percentile(95),
      p99Ms: this.percentile(99),
    };
  }
}

/**
 * Percentiles over the recent past rather than since start-up: two histograms take turns, so a
 * summary covers between one and two windows of samples and an old spike ages out.
 */
export class WindowedHistogram {
  #current = new Histogram();
  #previous = new Histogram();
  #rotatedAt: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  #lifetimeCount = 0;

  constructor(windowMs = 60_000, now: () => number = Date.now) {
    this.#windowMs = windowMs;
    this.#now = now;
    this.#rotatedAt = now();
  }

  record(ms: number): void {
    this.#rotate();
    this.#current.record(ms);
    this.#lifetimeCount += 1;
  }

  /** Samples recorded since start-up, across all windows. */
  get lifetimeCount(): number {
    return this.#lifetimeCount;
  }

  /** The recent samples as one histogram (a copy: safe to merge into totals). */
  snapshot(): Histogram {
    this.#rotate();
    return new Histogram().merge(this.#previous).merge(this.#current);
  }

  summary(): LatencySummary {
    return this.snapshot().summary();
  }

  #rotate(): void {
    const now = this.#now();
    const elapsed = now - this.#rotatedAt;
    if (elapsed < this.#windowMs) return;
    if (elapsed >= 2 * this.#windowMs) this.#previous.reset();
    else {
      const old = this.#previous;
      this.#previous = this.#current;
      this.#current = old;
    }
    this.#current.reset();
    this.#rotatedAt = now;
  }
}
