import type { SamplerInfo } from '../../core/telemetry/index.js';
import { builder } from '../builder.js';
import './telemetry/connection-states-sample.js';
import './telemetry/cpu-sample.js';
import './telemetry/pool-sample.js';

/**
 * Live telemetry: three subscriptions (one file each under ./telemetry) sharing one sampler per
 * stream and interval, and a query showing which samplers run.
 */
const TelemetrySubscriptionEnum = builder.enumType('TelemetrySubscription', {
  description: 'The Subscription field a sampler feeds.',
  values: {
    POOL_UTILIZATION: { value: 'poolUtilization', description: 'Subscription.poolUtilization.' },
    CONTAINER_CPU: { value: 'containerCpu', description: 'Subscription.containerCpu.' },
    CONNECTION_STATES: { value: 'connectionStates', description: 'Subscription.connectionStates.' },
  } as const,
});

const SamplerRef = builder.objectRef<SamplerInfo>('TelemetrySampler').implement({
  description: 'A running sampler: one per stream and interval, shared by all its subscribers.',
  fields: (t) => ({
    subscription: t.field({
      type: TelemetrySubscriptionEnum,
      description: 'The subscription it feeds.',
      resolve: (s) => s.stream as 'poolUtilization' | 'containerCpu' | 'connectionStates',
    }),
    stream: t.exposeString('stream', {
      description: 'The subscription it feeds, as its field name (poolUtilization, ...).',
      deprecationReason: 'Use subscription, the same as an enum.',
    }),
    intervalMs: t.exposeInt('intervalMs', { description: 'Milliseconds between samples.' }),
    subscribers: t.exposeInt('subscribers', {
      description: 'Subscriptions it serves now, counting every member of a multiplexed group.',
    }),
    groups: t.exposeInt('groups', {
      description:
        'Groups it hands each sample to: WebSocket subscriptions with the same document, variables and role ' +
        'form one group, executed and serialized once per sample.',
    }),
    executions: t.field({
      type: 'SafeInt',
      description:
        'Samples executed through GraphQL since it started: one per sample per group, not per subscriber.',
      resolve: (s) => s.handedOut,
    }),
    leader: t.string({
      nullable: true,
      description:
        'The instance taking the samples when the cluster shares them (REDIS_URL); null when this instance samples alone.',
      resolve: (s) => s.leader,
    }),
    samplesTaken: t.exposeInt('samplesTaken', { description: 'Samples taken since the sampler started.' }),
    delivered: t.field({
      type: 'SafeInt',
      description:
        'Samples handed to the current subscribers (SafeInt: samples × subscribers can pass 2^31).',
      resolve: (s) => s.delivered,
    }),
    superseded: t.field({
      type: 'SafeInt',
      description: 'Samples a slow subscriber never saw because a newer one replaced them.',
      resolve: (s) => s.superseded,
    }),
    startedAt: t.field({
      type: 'DateTime',
      description: 'When its first subscriber came.',
      resolve: (s) => s.startedAt,
    }),
  }),
});

builder.queryField('telemetrySamplers', (t) =>
  t.field({
    type: [SamplerRef],
    description: 'The samplers running for the current subscribers.',
    resolve: (_root, _args, ctx) => ctx.poolpilot.telemetry.samplers(),
  }),
);
