import type { QueueState } from '../../core/queue/index.js';
import { builder } from '../builder.js';
import { roundMs } from '../rounding.js';
import { LatencyRef } from './latency.js';
import { PoolStatsRef } from './pool-stats.js';

export const QueueStatsRef = builder.objectRef<QueueState>('QueueStats').implement({
  description: 'The complex-query queue. Counters are since start-up (SafeInt: they can pass 2^31).',
  fields: (t) => ({
    depth: t.exposeInt('depth', { description: 'Statements waiting.' }),
    running: t.exposeInt('running', { description: 'Complex statements running now, 0..capacity.' }),
    capacity: t.int({
      description: 'Complex statements allowed to run at once (COMPLEX_QUEUE_CONCURRENCY).',
      resolve: (q) => q.concurrency,
    }),
    max: t.exposeInt('max', { description: 'Statements allowed to wait (COMPLEX_QUEUE_MAX).' }),
    timeoutMs: t.exposeInt('timeoutMs', {
      description: 'Longest wait for a slot, milliseconds (COMPLEX_QUEUE_TIMEOUT_MS); then QUERY_TIMEOUT.',
    }),
    oldestWaitMs: t.float({
      description:
        'How long the oldest waiting statement has waited, milliseconds (3 decimals); 0 when none.',
      resolve: (q) => roundMs(q.oldestWaitMs),
    }),
    enqueued: t.field({
      type: 'SafeInt',
      description: 'Statements that entered the queue.',
      resolve: (q) => q.enqueued,
    }),
    completed: t.field({
      type: 'SafeInt',
      description: 'Statements that ran and succeeded.',
      resolve: (q) => q.completed,
    }),
    failed: t.field({
      type: 'SafeInt',
      description: 'Statements that ran and failed.',
      resolve: (q) => q.failed,
    }),
    rejected: t.field({
      type: 'SafeInt',
      description: 'Refused at once: the queue was full (QUEUE_FULL).',
      resolve: (q) => q.rejected,
    }),
    timedOut: t.field({
      type: 'SafeInt',
      description: 'Refused after waiting COMPLEX_QUEUE_TIMEOUT_MS (QUERY_TIMEOUT).',
      resolve: (q) => q.timedOut,
    }),
    cancelled: t.field({
      type: 'SafeInt',
      description: 'Left the queue because the caller went away.',
      resolve: (q) => q.cancelled,
    }),
    wait: t.field({
      type: LatencyRef,
      description: 'Time spent waiting for a slot.',
      resolve: (q) => q.wait,
    }),
  }),
});

builder.objectField(PoolStatsRef, 'queue', (t) =>
  t.field({
    type: QueueStatsRef,
    description: 'The complex-query queue (depth, running, capacity).',
    resolve: (_s, _args, ctx) => ctx.poolpilot.queue.state(),
  }),
);
