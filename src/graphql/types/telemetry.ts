import type { SamplerInfo } from '../../core/telemetry/index.js';
import { builder } from '../builder.js';
import './telemetry/connection-states-sample.js';
import './telemetry/cpu-sample.js';
import './telemetry/pool-sample.js';

/**
 * Live telemetry: three subscriptions (one file each under ./telemetry) sharing one sampler per
 * stream and interval, and a query showing which samplers run.
 */
const SamplerRef = builder.objectRef<SamplerInfo>('TelemetrySampler').implement({
  description: 'A running sampler: one per stream and interval, shared by all its subscribers.',
  fields: (t) => ({
    stream: t.exposeString('stream'),
    intervalMs: t.exposeInt('intervalMs'),
    subscribers: t.exposeInt('subscribers'),
    samplesTaken: t.exposeInt('samplesTaken', { description: 'Samples taken since the sampler started.' }),
    delivered: t.exposeInt('delivered', { description: 'Samples handed to the current subscribers.' }),
    superseded: t.exposeInt('superseded', {
      description: 'Samples a slow subscriber never saw because a newer one replaced them.',
    }),
    startedAt: t.field({ type: 'DateTime', resolve: (s) => s.startedAt }),
  }),
});

builder.queryField('telemetrySamplers', (t) =>
  t.field({
    type: [SamplerRef],
    description: 'The samplers running for the current subscribers.',
    resolve: (_root, _args, ctx) => ctx.poolpilot.telemetry.samplers(),
  }),
);
