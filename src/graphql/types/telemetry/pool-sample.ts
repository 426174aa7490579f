import type {
  PoolFiguresSample,
  PoolSample,
  PoolTargetSample,
  QueueFigures,
} from '../../../core/telemetry/index.js';
import { builder } from '../../builder.js';
import { ServiceStatusEnum, TargetRoleEnum } from '../health.js';
import { INTERVAL_ARG_DESCRIPTION } from './interval.js';

const PoolSampleFiguresRef = builder.interfaceRef<PoolFiguresSample>('PoolSampleFigures').implement({
  fields: (t) => ({
    total: t.exposeInt('total'),
    idle: t.exposeInt('idle'),
    active: t.exposeInt('active'),
    waiting: t.exposeInt('waiting', { description: 'Callers waiting for a connection.' }),
    max: t.exposeInt('max'),
    utilization: t.exposeFloat('utilization', { description: 'active / max, 0..100.' }),
    acquireWaitP95Ms: t.exposeFloat('acquireWaitP95Ms', {
      description: '95th percentile of the wait for a connection, over the last minute or two.',
    }),
    queriesPerSecond: t.exposeFloat('queriesPerSecond', { description: 'Since the previous sample.' }),
    queries: t.exposeInt('queries', { description: 'Statements finished since the previous sample.' }),
    errors: t.exposeInt('errors', { description: 'Statements failed since the previous sample.' }),
  }),
});

const PoolSampleTotalRef = builder.objectRef<PoolFiguresSample>('PoolSampleTotal').implement({
  interfaces: [PoolSampleFiguresRef],
});

const PoolSampleTargetRef = builder.objectRef<PoolTargetSample>('PoolSampleTarget').implement({
  interfaces: [PoolSampleFiguresRef],
  fields: (t) => ({
    name: t.exposeString('name'),
    role: t.field({ type: TargetRoleEnum, resolve: (s) => s.role }),
    up: t.exposeBoolean('up'),
  }),
});

const PoolSampleQueueRef = builder.objectRef<QueueFigures>('PoolSampleQueue').implement({
  fields: (t) => ({
    depth: t.exposeInt('depth', { description: 'Complex queries waiting for a slot.' }),
    running: t.exposeInt('running', { description: 'Complex queries running now.' }),
    concurrency: t.exposeInt('concurrency', { description: 'Slots (COMPLEX_QUEUE_CONCURRENCY).' }),
  }),
});

export const PoolSampleRef = builder.objectRef<PoolSample>('PoolSample').implement({
  description: 'Pool utilization at one instant, per target and in total.',
  fields: (t) => ({
    at: t.field({ type: 'DateTime', resolve: (s) => s.at }),
    seq: t.exposeInt('seq', {
      description: "The sample's number within its sampler; shared by all subscribers.",
    }),
    intervalMs: t.exposeInt('intervalMs', { description: 'The interval in effect (after clamping).' }),
    elapsedMs: t.exposeInt('elapsedMs', { description: 'Time the per-sample rates cover; 0 for the first.' }),
    status: t.field({ type: ServiceStatusEnum, resolve: (s) => s.status }),
    total: t.field({ type: PoolSampleTotalRef, resolve: (s) => s.total }),
    targets: t.field({ type: [PoolSampleTargetRef], resolve: (s) => s.targets }),
    queue: t.field({
      type: PoolSampleQueueRef,
      nullable: true,
      description: 'The complex-query queue; null when the service runs none.',
      resolve: (s) => s.queue,
    }),
  }),
});

builder.subscriptionField('poolUtilization', (t) =>
  t.field({
    type: PoolSampleRef,
    description:
      'Pool utilization samples: total/idle/active/waiting, rates and the queue, per target and total.',
    args: { intervalMs: t.arg.int({ required: false, description: INTERVAL_ARG_DESCRIPTION }) },
    subscribe: (_root, args, ctx) => ctx.poolpilot.telemetry.poolUtilization(args.intervalMs),
    resolve: (sample) => sample,
  }),
);
