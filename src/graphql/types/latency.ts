import type { LatencySummary } from '../../core/pool/index.js';
import { builder } from '../builder.js';

export const LatencyRef = builder.objectRef<LatencySummary>('Latency').implement({
  description: 'Percentiles over the last one to two minutes, from a log-bucketed histogram (within 1%).',
  fields: (t) => ({
    count: t.exposeInt('count', { description: 'Samples in the window.' }),
    meanMs: t.exposeFloat('meanMs'),
    maxMs: t.exposeFloat('maxMs'),
    p50Ms: t.exposeFloat('p50Ms'),
    p95Ms: t.exposeFloat('p95Ms'),
    p99Ms: t.exposeFloat('p99Ms'),
  }),
});
