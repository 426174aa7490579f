import type { ClientSummary } from '../clients/index.js';
import type { Logger } from '../logger.js';
import type { Cluster } from '../pool/index.js';
import {
  type ActivityRow,
  type ConnectionStatesSample,
  connectionStatesTaker,
  readActivity,
} from './connection-states.js';
import { cgroupProbe } from './cpu/cgroup-source.js';
import { type CpuSample, CpuSources, cpuSampleTaker } from './cpu/cpu-sample.js';
import { dockerProbe } from './cpu/docker-source.js';
import { procProbe } from './cpu/proc-source.js';
import { ServerProcessLocator } from './cpu/server-process.js';
import type { CpuSourceProbe } from './cpu/source.js';
import { type PoolSample, poolSampleTaker, type QueueFigures } from './pool-sample.js';
import { type IntervalLimits, SamplerRegistry, type SubscribeOptions } from './registry.js';
import type { SamplerInfo, SampleStream } from './sampler.js';
import { singleFlight } from './single-flight.js';
import { SERVER_PROCESS_SQL } from './sql.js';

export interface TelemetryOptions {
  cluster: Cluster;
  /** The application_name poolpilot's connections carry, to tell them apart in pg_stat_activity. */
  applicationName: string;
  /** Docker container running PostgreSQL (DB_CONTAINER). */
  dbContainer: string | null;
  /** The complex-query queue's figures, when there is a queue. */
  queueState?: () => QueueFigures | null;
  /** Wire-front clients by state, read at sample time. */
  clientState?: () => ClientSummary | null;
  log: Logger;
  limits?: IntervalLimits;
  dockerSocket?: string;
  procRoot?: string;
  cgroupRoot?: string;
  /** Replaces the default source order (docker, proc, cgroup). */
  cpuProbes?: CpuSourceProbe[];
}

export type TelemetryStream = 'poolUtilization' | 'containerCpu' | 'connectionStates';

/**
 * Live samples of the pools, the PostgreSQL server's CPU and its sessions. Every stream is
 * sampled once per interval however many subscribe to it, at one of eight intervals, and holds
 * at most one pooled connection at a time (the pool stream queries nothing).
 */
export class Telemetry {
  readonly registry: SamplerRegistry;
  readonly cpuSources: CpuSources;
  readonly #options: TelemetryOptions;
  readonly #readActivity: () => Promise<ActivityRow[]>;

  constructor(options: TelemetryOptions) {
    this.#options = options;
    this.#readActivity = singleFlight(() =>
      readActivity(options.cluster.primary.admin, options.applicationName),
    );
    this.registry = new SamplerRegistry(options.log, options.limits);
    const admin = options.cluster.primary.admin;
    const locator = new ServerProcessLocator(async () => {
      const { rows } = await admin.query(SERVER_PROCESS_SQL);
      const row = rows[0] as { pid: number; started_ms: number };
      return { pid: row.pid, startedMs: row.started_ms };
    }, options.procRoot);
    this.cpuSources = new CpuSources(
      options.cpuProbes ?? [
        dockerProbe({ container: options.dbContainer, socketPath: options.dockerSocket }),
        procProbe(locator, options.procRoot),
        cgroupProbe(locator, options.procRoot, options.cgroupRoot),
      ],
    );
  }

  poolUtilization(intervalMs?: number | null, options?: SubscribeOptions): SampleStream<PoolSample> {
    const { cluster, queueState, clientState } = this.#options;
    return this.registry.subscribe(
      'poolUtilization',
      intervalMs,
      (ms) =>
        poolSampleTaker(
          ms,
          () => cluster.state(),
          () => queueState?.() ?? null,
          () => clientState?.() ?? null,
        ),
      options,
    );
  }

  containerCpu(intervalMs?: number | null, options?: SubscribeOptions): SampleStream<CpuSample> {
    return this.registry.subscribe(
      'containerCpu',
      intervalMs,
      (ms) => cpuSampleTaker(ms, this.cpuSources),
      options,
    );
  }

  connectionStates(
    intervalMs?: number | null,
    options?: SubscribeOptions,
  ): SampleStream<ConnectionStatesSample> {
    const primary = this.#options.cluster.primary.pool;
    return this.registry.subscribe(
      'connectionStates',
      intervalMs,
      (ms) => connectionStatesTaker(ms, primary.name, this.#readActivity),
      options,
    );
  }

  samplers(): SamplerInfo[] {
    return this.registry.samplers();
  }

  close(): void {
    this.registry.close();
  }
}
