import type {
  PoolFiguresSample,
  PoolInstanceSample,
  PoolSample,
  PoolTargetSample,
  QueueFigures,
} from '../../../core/telemetry/index.js';
import { builder } from '../../builder.js';
import { roundMs, roundPercent } from '../../rounding.js';
import { ClientSummaryRef } from '../clients.js';
import { ServiceStatusEnum, TargetRoleEnum } from '../health.js';
import { INTERVAL_ARG_DESCRIPTION } from './interval.js';

const PoolSampleFiguresRef = builder.interfaceRef<PoolFiguresSample>('PoolSampleFigures').implement({
  description: 'Pool figures at the sample instant, as PoolFigures names them.',
  fields: (t) => ({
    total: t.exposeInt('total', { description: 'Open connections.' }),
    idle: t.exposeInt('idle', { description: 'Connections open and free.' }),
    active: t.exposeInt('active', { description: 'Connections lent to a caller.' }),
    waiting: t.exposeInt('waiting', { description: 'Callers waiting for a connection.' }),
    max: t.exposeInt('max', { description: 'Most connections the pool opens.' }),
    utilization: t.float({
      description: 'active / max, 0..100 (2 decimals), as PoolFigures.utilization.',
      resolve: (s) => roundPercent(s.utilization),
    }),
    acquireWaitP95Ms: t.float({
      description:
        '95th percentile of the wait for a connection, over the last minute or two, ms (3 decimals).',
      resolve: (s) => roundMs(s.acquireWaitP95Ms),
    }),
    queriesPerSecond: t.float({
      description: 'Statements per second since the previous sample (2 decimals).',
      resolve: (s) => roundPercent(s.queriesPerSecond),
    }),
    queries: t.exposeInt('queries', { description: 'Statements finished since the previous sample.' }),
    errors: t.exposeInt('errors', { description: 'Statements failed since the previous sample.' }),
  }),
});

const PoolSampleTotalRef = builder.objectRef<PoolFiguresSample>('PoolSampleTotal').implement({
  description: 'The figures summed over every target.',
  interfaces: [PoolSampleFiguresRef],
});

const PoolSampleTargetRef = builder.objectRef<PoolTargetSample>('PoolSampleTarget').implement({
  description: "One target's figures.",
  interfaces: [PoolSampleFiguresRef],
  fields: (t) => ({
    name: t.exposeString('name', { description: 'primary, replica-1, ...' }),
    role: t.field({ type: TargetRoleEnum, description: 'Primary or replica.', resolve: (s) => s.role }),
    up: t.exposeBoolean('up', { description: 'The last health check succeeded.' }),
  }),
});

const PoolSampleQueueRef = builder.objectRef<QueueFigures>('PoolSampleQueue').implement({
  description: 'The complex-query queue at the sample instant, as QueueStats names it.',
  fields: (t) => ({
    depth: t.exposeInt('depth', { description: 'Complex queries waiting for a slot.' }),
    running: t.exposeInt('running', { description: 'Complex queries running now.' }),
    capacity: t.int({ description: 'Slots (COMPLEX_QUEUE_CONCURRENCY).', resolve: (q) => q.concurrency }),
    concurrency: t.exposeInt('concurrency', {
      description: 'Slots (COMPLEX_QUEUE_CONCURRENCY).',
      deprecationReason: 'Use capacity, the name QueueStats uses.',
    }),
  }),
});

export const TelemetryScopeEnum = builder.enumType('TelemetryScope', {
  description: 'Whose pools a pool sample covers.',
  values: {
    CLUSTER: {
      value: 'cluster',
      description:
        'Every live instance sharing REDIS_URL, sampled once for all by one of them; this instance alone without REDIS_URL.',
    },
    INSTANCE: { value: 'instance', description: 'This instance alone, sampled here.' },
  } as const,
});

const PoolSampleInstanceRef = builder.objectRef<PoolInstanceSample>('PoolSampleInstance').implement({
  description: "One instance's part of a pool sample.",
  fields: (t) => ({
    name: t.exposeString('name', { description: 'INSTANCE_NAME (host-pid by default).' }),
    status: t.field({
      type: ServiceStatusEnum,
      description: 'The instance as a whole.',
      resolve: (s) => s.status,
    }),
    total: t.field({
      type: PoolSampleTotalRef,
      description: "Summed over the instance's targets.",
      resolve: (s) => s.total,
    }),
    targets: t.field({
      type: [PoolSampleTargetRef],
      description: 'The primary first, then each replica.',
      resolve: (s) => s.targets,
    }),
    queue: t.field({
      type: PoolSampleQueueRef,
      nullable: true,
      description: 'Its complex-query queue; null when it runs none.',
      resolve: (s) => s.queue,
    }),
    clients: t.field({
      type: ClientSummaryRef,
      nullable: true,
      description: 'Its wire-front clients by state.',
      resolve: (s) => s.clients,
    }),
  }),
});

export const PoolSampleRef = builder.objectRef<PoolSample>('PoolSample').implement({
  description: 'Pool utilization at one instant, per target and in total.',
  fields: (t) => ({
    at: t.field({ type: 'DateTime', description: 'When the sample was taken.', resolve: (s) => s.at }),
    seq: t.exposeInt('seq', {
      description: "The sample's number within its sampler; shared by all subscribers.",
    }),
    intervalMs: t.exposeInt('intervalMs', { description: 'The interval in effect (after clamping).' }),
    elapsedMs: t.exposeInt('elapsedMs', { description: 'Time the per-sample rates cover; 0 for the first.' }),
    status: t.field({
      type: ServiceStatusEnum,
      description: 'The service as a whole (the worst of its instances).',
      resolve: (s) => s.status,
    }),
    total: t.field({
      type: PoolSampleTotalRef,
      description:
        'Summed over every target of every instance covered (acquireWaitP95Ms: the worst instance’s).',
      resolve: (s) => s.total,
    }),
    targets: t.field({
      type: [PoolSampleTargetRef],
      description: 'The primary first, then each replica; each summed over the instances covered.',
      resolve: (s) => s.targets,
    }),
    instances: t.field({
      type: [PoolSampleInstanceRef],
      description: "Each instance's own figures, by name: this one alone, or every live one of the cluster.",
      resolve: (s) => s.instances,
    }),
    queue: t.field({
      type: PoolSampleQueueRef,
      nullable: true,
      description: 'The complex-query queue; null when the service runs none.',
      resolve: (s) => s.queue,
    }),
    clients: t.field({
      type: ClientSummaryRef,
      nullable: true,
      description: 'Wire-front clients by state (cl_active, cl_waiting) at the sample time.',
      resolve: (s) => s.clients,
    }),
  }),
});

builder.subscriptionField('poolUtilization', (t) =>
  t.field({
    type: PoolSampleRef,
    description:
      'Pool utilization samples: total/idle/active/waiting, rates and the queue, per target and total.',
    args: {
      intervalMs: t.arg.int({ required: false, description: INTERVAL_ARG_DESCRIPTION }),
      scope: t.arg({
        type: TelemetryScopeEnum,
        required: false,
        description: 'CLUSTER (default): every instance sharing REDIS_URL; INSTANCE: this one alone.',
      }),
    },
    subscribe: (_root, args, ctx) =>
      ctx.poolpilot.telemetry.poolUtilization(args.intervalMs, {
        audience: ctx.audience,
        local: args.scope === 'instance',
      }),
    resolve: (sample) => sample,
  }),
);

builder.queryField('poolSnapshot', (t) =>
  t.field({
    type: PoolSampleRef,
    description:
      'The pools now, as a poolUtilization sample without rates (seq 1, elapsedMs 0): summed over every live ' +
      'instance sharing REDIS_URL (scope CLUSTER, the default; as last reported, every 250 ms) or this instance alone.',
    args: {
      scope: t.arg({
        type: TelemetryScopeEnum,
        required: false,
        description: 'CLUSTER (default) or INSTANCE.',
      }),
    },
    resolve: (_root, args, ctx) => ctx.poolpilot.telemetry.poolSnapshot(args.scope === 'instance'),
  }),
);
