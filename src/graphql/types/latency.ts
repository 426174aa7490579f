import type { LatencySummary } from '../../core/pool/index.js';
import { builder } from '../builder.js';
import { roundMs } from '../rounding.js';

export const LatencyRef = builder.objectRef<LatencySummary>('Latency').implement({
  description:
    'Percentiles over the last one to two minutes, from a log-bucketed histogram (within 1%). ' +
    'Milliseconds to 3 decimals; 0 when count is 0.',
  fields: (t) => ({
    count: t.exposeInt('count', { description: 'Samples in the window.' }),
    meanMs: t.float({ description: 'Mean, milliseconds.', resolve: (l) => roundMs(l.meanMs) }),
    maxMs: t.float({ description: 'Largest, milliseconds.', resolve: (l) => roundMs(l.maxMs) }),
    p50Ms: t.float({ description: 'Median, milliseconds.', resolve: (l) => roundMs(l.p50Ms) }),
    p95Ms: t.float({ description: '95th percentile, milliseconds.', resolve: (l) => roundMs(l.p95Ms) }),
    p99Ms: t.float({ description: '99th percentile, milliseconds.', resolve: (l) => roundMs(l.p99Ms) }),
  }),
});
