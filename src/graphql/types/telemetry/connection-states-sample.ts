import type { ConnectionStatesSample, StateCounts, StateGroup } from '../../../core/telemetry/index.js';
import { builder } from '../../builder.js';
import { roundMs } from '../../rounding.js';
import { INTERVAL_ARG_DESCRIPTION } from './interval.js';

const SampleStateCountsRef = builder.interfaceRef<StateCounts>('SampleStateCounts').implement({
  description: 'Client sessions by pg_stat_activity.state.',
  fields: (t) => ({
    total: t.exposeInt('total', { description: 'Client sessions counted.' }),
    active: t.exposeInt('active', { description: 'Running a statement.' }),
    idle: t.exposeInt('idle', { description: 'Waiting for a command.' }),
    idleInTransaction: t.exposeInt('idleInTransaction', { description: 'Inside a transaction, waiting.' }),
    idleInTransactionAborted: t.exposeInt('idleInTransactionAborted', {
      description: 'Inside a failed transaction, waiting for ROLLBACK.',
    }),
    fastpathFunctionCall: t.exposeInt('fastpathFunctionCall', {
      description: 'Running a fast-path function call.',
    }),
    disabled: t.exposeInt('disabled', { description: 'track_activities off.' }),
    unknown: t.exposeInt('unknown', {
      description: "Sessions whose state is hidden (another user's, without pg_read_all_stats).",
    }),
    waitingOnLocks: t.exposeInt('waitingOnLocks', {
      description: 'Sessions blocked by a lock (pg_blocking_pids).',
    }),
    oldestTransactionAgeMs: t.float({
      nullable: true,
      description: 'Age of the oldest open transaction, milliseconds (3 decimals); null when none is open.',
      resolve: (s) => roundMs(s.oldestTransactionAgeMs),
    }),
    oldestIdleInTransactionAgeMs: t.float({
      nullable: true,
      description:
        'Longest time a session has sat idle inside a transaction (since state_change), milliseconds (3 decimals).',
      resolve: (s) => roundMs(s.oldestIdleInTransactionAgeMs),
    }),
  }),
});

const SampleStateTotalsRef = builder.objectRef<StateCounts>('SampleStateTotals').implement({
  description: 'Counts of a group of sessions (own or others).',
  interfaces: [SampleStateCountsRef],
});

const SampleStateGroupRef = builder.objectRef<StateGroup>('SampleStateGroup').implement({
  description: 'Counts of the sessions of one database.',
  interfaces: [SampleStateCountsRef],
  fields: (t) => ({ name: t.exposeString('name', { description: 'The database name.' }) }),
});

const SampleApplicationRef = builder
  .objectRef<StateGroup & { own: boolean }>('SampleApplicationStates')
  .implement({
    description: 'Counts of the sessions of one application_name.',
    interfaces: [SampleStateCountsRef],
    fields: (t) => ({
      name: t.exposeString('name', { description: 'application_name.' }),
      own: t.exposeBoolean('own', { description: "poolpilot's own connections." }),
    }),
  });

const SampleWaitEventRef = builder
  .objectRef<{ type: string; count: number }>('SampleWaitEventCount')
  .implement({
    description: 'Active sessions waiting on one kind of event.',
    fields: (t) => ({
      type: t.exposeString('type', { description: 'wait_event_type, or CPU when not waiting.' }),
      count: t.exposeInt('count', { description: 'Active sessions.' }),
    }),
  });

export const ConnectionStatesSampleRef = builder
  .objectRef<ConnectionStatesSample>('ConnectionStatesSample')
  .implement({
    description:
      "The primary's sessions from pg_stat_activity at one instant (client backends, the sampler's own excluded).",
    interfaces: [SampleStateCountsRef],
    fields: (t) => ({
      at: t.field({ type: 'DateTime', description: 'When the sample was taken.', resolve: (s) => s.at }),
      seq: t.exposeInt('seq', {
        description: "The sample's number within its sampler; shared by all subscribers.",
      }),
      intervalMs: t.exposeInt('intervalMs', { description: 'The interval in effect (after clamping).' }),
      target: t.exposeString('target', { description: 'The target sampled (primary).' }),
      byWaitEventType: t.field({
        type: [SampleWaitEventRef],
        description: 'Active sessions by what they wait on.',
        resolve: (s) => s.byWaitEventType,
      }),
      byApplication: t.field({
        type: [SampleApplicationRef],
        description: 'Sessions by application_name.',
        resolve: (s) => s.byApplication,
      }),
      byDatabase: t.field({
        type: [SampleStateGroupRef],
        description: 'Sessions by database.',
        resolve: (s) => s.byDatabase,
      }),
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
    subscribe: (_root, args, ctx) =>
      ctx.poolpilot.telemetry.connectionStates(args.intervalMs, { audience: ctx.audience }),
    resolve: (sample) => sample,
  }),
);
