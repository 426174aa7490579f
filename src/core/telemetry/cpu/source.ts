/** Where CPU figures for the PostgreSQL server come from, in the order they are tried. */
export type CpuSourceKind = 'docker' | 'proc' | 'cgroup' | 'none';

/** Cumulative counters at one instant; a sample is the difference between two readings. */
export interface CpuReading {
  /** CPU time used by the server so far, in nanoseconds. */
  usageNs: number;
  /**
   * CPU time the whole host has spent so far (Docker's `system_cpu_usage`), when the source
   * reports it; null means "use wall-clock time", as `top` does.
   */
  systemNs: number | null;
  /** Cores available to the server (a CPU limit when there is one). */
  onlineCpus: number;
  /** Memory the server uses, without reclaimable page cache; null when unknown. */
  memoryBytes: number | null;
  /** Monotonic time of the reading, in nanoseconds. */
  atNs: number;
}

export interface CpuSource {
  readonly kind: Exclude<CpuSourceKind, 'none'>;
  /** What is measured: the container, the postmaster's pid, the cgroup path. */
  readonly detail: string;
  read(): Promise<CpuReading>;
}

/**
 * Sets a source up without reading it (the first read tells whether it works): the source, or
 * the reason it cannot be used here.
 */
export type CpuSourceProbe = () => Promise<CpuSource | string>;

export const nowNs = (): number => Number(process.hrtime.bigint());
