import type { ConnectionStatesSample, StateCounts, StateGroup } from '../../../core/telemetry/index.js';
import { builder } from '../../builder.js';
import { INTERVAL_ARG_DESCRIPTION } from './interval.js';

const SampleStateCountsRef = builder.interfaceRef<StateCounts>('SampleStateCounts').implement({
  description: 'Client sessions by pg_stat_activity.state.',
  fields: (t) => ({
    total: t.exposeInt('total'),
    active: t.exposeInt('active'),
    idle: t.exposeInt('idle'),
    idleInTransaction: t.exposeInt('idleInTransaction'),
    idleInTransactionAborted: t.exposeInt('idleInTransactionAborted'),
    fastpathFunctionCall: t.exposeInt('fastpathFunctionCall'),
    disabled: t.exposeInt('disabled'),
    unknown: t.exposeInt('unknown', {
      description: "Sessions whose state is hidden (another user's, without pg_read_all_stats).",
    }),
    waitingOnLocks: t.exposeInt('waitingOnLocks', {
      description: 'Sessions blocked by a lock (pg_blocking_pids).',
    }),
    oldestTransactionAgeMs: t.exposeFloat('oldestTransactionAgeMs', { nullable: true }),
    oldestIdleInTransactionAgeMs: t.exposeFloat('oldestIdleInTransactionAgeMs', {
      nullable: true,
      description: 'Longest time a session has sat idle inside a transaction (since state_change).',
    }),
  }),
});

const SampleStateTotalsRef = builder.objectRef<StateCounts>('SampleStateTotals').implement({
  interfaces: [SampleStateCountsRef],
});

const SampleStateGroupRef = builder.objectRef<StateGroup>('SampleStateGroup').implement({
  interfaces: [SampleStateCountsRef],
  fields: (t) => ({ name: t.exposeString('name') }),
});

const SampleApplicationRef = builder
  .objectRef<StateGroup & { own: boolean }>('SampleApplicationStates')
  .implement({
    interfaces: [SampleStateCountsRef],
    fields: (t) => ({
      name: t.exposeString('name', { description: 'application_name.' }),
      own: t.exposeBoolean('own', { description: "poolpilot's own connections." }),
    }),
  });

const SampleWaitEventRef = builder
  .objectRef<{ type: string; count: number }>('SampleWaitEventCount')
  .implement({
    fields: (t) => ({
      type: t.exposeString('type', { description: 'wait_event_type, or CPU when not waiting.' }),
      count: t.exposeInt('count'),
    }),
  });

export const ConnectionStatesSampleRef = builder
  .objectRef<ConnectionStatesSample>('ConnectionStatesSample')
  .implement({
    description:
      "The primary's sessions from pg_stat_activity at one instant (client backends, the sampler's own excluded).",
    interfaces: [SampleStateCountsRef],
    fields: (t) => ({
      at: t.field({ type: 'DateTime', resolve: (s) => s.at }),
      seq: t.exposeInt('seq'),
      intervalMs: t.exposeInt('intervalMs'),
      target: t.exposeString('target'),
      byWaitEventType: t.field({
        type: [SampleWaitEventRef],
        description: 'Active sessions by what they wait on.',
        resolve: (s) => s.byWaitEventType,
      }),
      byApplication: t.field({ type: [SampleApplicationRef], resolve: (s) => s.byApplication }),
      byDatabase: t.field({ type: [SampleStateGroupRef], resolve: (s) => s.byDatabase }),
      own: t.field({
        type: SampleStateTotalsRef,
        description: "poolpilot's own connections.",
        resolve: (s) => s.own,
      }),
      others: t.field({
        type: SampleStateTotalsRef,
        description: 'Everyone else.',
        resolve: (s) => s.others,
      }),
      error: t.exposeString('error', {
        nullable: true,
        description: 'Why this sample is empty (the primary is unreachable, say).',
      }),
    }),
  });

builder.subscriptionField('connectionStates', (t) =>
  t.field({
    type: ConnectionStatesSampleRef,
    description:
      'Connection-state samples: counts by state, wait-event type, application and database, lock waits and ages.',
    args: { intervalMs: t.arg.int({ required: false, description: INTERVAL_ARG_DESCRIPTION }) },
    subscribe: (_root, args, ctx) => ctx.poolpilot.telemetry.connectionStates(args.intervalMs),
    resolve: (sample) => sample,
  }),
);
