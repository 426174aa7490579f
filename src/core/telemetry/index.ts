export { ClusterSamples, type ClusterSamplesOptions, leaseFor } from './cluster-samples.js';
export {
  type ActivityRow,
  type ConnectionStatesSample,
  readActivity,
  type StateCounts,
  type StateGroup,
  summarizeActivity,
} from './connection-states.js';
export { cgroupProbe, readCgroup } from './cpu/cgroup-source.js';
export { type CpuSample, CpuSources, cpuPercent, cpuSampleTaker } from './cpu/cpu-sample.js';
export { DEFAULT_DOCKER_SOCKET, dockerProbe, readingFromDockerStats } from './cpu/docker-source.js';
export { procProbe } from './cpu/proc-source.js';
export { ServerProcessLocator } from './cpu/server-process.js';
export type { CpuReading, CpuSource, CpuSourceKind, CpuSourceProbe } from './cpu/source.js';
export {
  type InstancePools,
  instancePools,
  type PoolCounts,
  type PoolFiguresSample,
  type PoolInstanceSample,
  type PoolSample,
  type PoolTargetSample,
  poolSampleTaker,
  type QueueFigures,
} from './pool-sample.js';
export {
  clampInterval,
  INTERVAL_LIMITS,
  type IntervalLimits,
  SamplerRegistry,
  type SharedSources,
  type SubscribeOptions,
} from './registry.js';
export {
  type Audience,
  everyInterval,
  Sampler,
  type SamplerInfo,
  type SampleSource,
  SampleStream,
  type TakeSample,
} from './sampler.js';
export { type LeaderMode, StreamLeader } from './stream-leader.js';
export { Telemetry, type TelemetryOptions, type TelemetryStream } from './telemetry.js';
