import type { QueueState } from '../../core/queue/index.js';
import { builder } from '../builder.js';
import { LatencyRef } from './latency.js';
import { PoolStatsRef } from './pool-stats.js';

export const QueueStatsRef = builder.objectRef<QueueState>('QueueStats').implement({
  description: 'The complex-query queue.',
  fields: (t) => ({
    depth: t.exposeInt('depth', { description: 'Statements waiting.' }),
    running: t.exposeInt('running'),
    capacity: t.int({
      description: 'Complex statements allowed to run at once.',
      resolve: (q) => q.concurrency,
    }),
    max: t.exposeInt('max', { description: 'Statements allowed to wait (COMPLEX_QUEUE_MAX).' }),
    timeoutMs: t.exposeInt('timeoutMs'),
    oldestWaitMs: t.exposeFloat('oldestWaitMs'),
    enqueued: t.exposeInt('enqueued'),
    completed: t.exposeInt('completed'),
    failed: t.exposeInt('failed'),
    rejected: t.exposeInt('rejected', { description: 'Refused at once: the queue was full.' }),
    timedOut: t.exposeInt('timedOut', { description: 'Refused after waiting COMPLEX_QUEUE_TIMEOUT_MS.' }),
    cancelled: t.exposeInt('cancelled'),
    wait: t.field({ type: LatencyRef, resolve: (q) => q.wait }),
  }),
});

builder.objectField(PoolStatsRef, 'queue', (t) =>
  t.field({ type: QueueStatsRef, resolve: (_s, _args, ctx) => ctx.poolpilot.queue.state() }),
);
