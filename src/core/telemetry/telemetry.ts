import { hostname } from 'node:os';
import type { ClientSummary } from '../clients/index.js';
import type { Logger } from '../logger.js';
import type { Cluster } from '../pool/index.js';
import type { ClusterSamples } from './cluster-samples.js';
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
import {
  type InstancePools,
  instancePools,
  type PoolSample,
  poolSampleTaker,
  type QueueFigures,
} from './pool-sample.js';
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
  /** This instance's name in pool samples; INSTANCE_NAME's default (host-pid) when absent. */
  instanceName?: string;
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
  #cluster: ClusterSamples | null = null;
  #instance: string;

  constructor(options: TelemetryOptions) {
    this.#options = options;
    this.#instance = options.instanceName ?? `${hostname()}-${process.pid}`;
    // The server acting as primary: after a failover, the promoted one's sessions are the ones that matter.
    this.#readActivity = singleFlight(() =>
      readActivity(options.cluster.actingPrimary().admin, options.applicationName),
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

  /**
   * From now on every stream subscribed without `local` is sampled once for the whole cluster, and
   * this instance's pool figures are reported for the others' pool samples.
   */
  share(cluster: ClusterSamples): void {
    this.#cluster = cluster;
    this.#instance = cluster.instance;
    this.registry.share(cluster);
    cluster.reportPools(() => this.#ownPools());
  }

  /** The cluster sharing this instance's telemetry; null when it samples alone. */
  get cluster(): ClusterSamples | null {
    return this.#cluster;
  }

  #ownPools(): InstancePools {
    const { cluster, queueState, clientState } = this.#options;
    return instancePools(this.#instance, cluster.state(), queueState?.() ?? null, clientState?.() ?? null);
  }

  #readPools(shared: boolean): () => InstancePools[] | Promise<InstancePools[]> {
    const cluster = shared ? this.#cluster : null;
    return cluster ? () => cluster.readPools(this.#ownPools()) : () => [this.#ownPools()];
  }

  poolUtilization(intervalMs?: number | null, options?: SubscribeOptions): SampleStream<PoolSample> {
    return this.registry.subscribe(
      'poolUtilization',
      intervalMs,
      (ms, shared) => poolSampleTaker(ms, this.#readPools(shared)),
      options,
    );
  }

  /** The pools now, as a pool sample without rates: every live instance's, or (`local`) this one's. */
  poolSnapshot(local = false): Promise<PoolSample> {
    return poolSampleTaker(0, this.#readPools(!local))();
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
