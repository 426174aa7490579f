import type { BlockingPair, ConnectionStates, SessionInfo } from '../../core/insights/index.js';
import { builder } from '../builder.js';

const SessionInfoRef = builder.objectRef<SessionInfo>('SessionInfo').implement({
  description: 'A session from pg_stat_activity.',
  fields: (t) => ({
    pid: t.exposeInt('pid'),
    user: t.exposeString('user', { nullable: true }),
    application: t.exposeString('application'),
    database: t.exposeString('database', { nullable: true }),
    clientAddr: t.exposeString('clientAddr', { nullable: true }),
    state: t.exposeString('state', { nullable: true }),
    waitEventType: t.exposeString('waitEventType', { nullable: true }),
    waitEvent: t.exposeString('waitEvent', { nullable: true }),
    backendStart: t.field({ type: 'DateTime', resolve: (s) => s.backendStart }),
    transactionStart: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.transactionStart }),
    transactionAgeMs: t.float({ nullable: true, resolve: (s) => s.transactionMs }),
    stateAgeMs: t.float({
      nullable: true,
      description: 'Time in the current state.',
      resolve: (s) => s.stateMs,
    }),
    query: t.exposeString('query', { description: 'Current or last statement, truncated.' }),
    poolpilot: t.exposeBoolean('poolpilot', { description: "One of poolpilot's own connections." }),
  }),
});

const BlockingPairRef = builder.objectRef<BlockingPair>('BlockingPair').implement({
  description: 'A session waiting on a lock and the session holding it (pg_blocking_pids).',
  fields: (t) => ({
    blockedPid: t.exposeInt('blockedPid'),
    blockedUser: t.exposeString('blockedUser', { nullable: true }),
    blockedApplication: t.exposeString('blockedApplication'),
    blockedQuery: t.exposeString('blockedQuery'),
    waitingMs: t.exposeFloat('waitingMs', { nullable: true }),
    blockingPid: t.exposeInt('blockingPid'),
    blockingUser: t.exposeString('blockingUser', { nullable: true }),
    blockingApplication: t.exposeString('blockingApplication'),
    blockingState: t.exposeString('blockingState', { nullable: true }),
    blockingQuery: t.exposeString('blockingQuery'),
  }),
});

const ConnectionStatesRef = builder.objectRef<ConnectionStates>('ConnectionStates').implement({
  description: 'Client connections by state (pg_stat_activity), now.',
  fields: (t) => ({
    total: t.exposeInt('total'),
    active: t.exposeInt('active'),
    idle: t.exposeInt('idle'),
    idleInTransaction: t.exposeInt('idleInTransaction'),
    idleInTransactionAborted: t.exposeInt('idleInTransactionAborted'),
    fastpath: t.exposeInt('fastpath'),
    disabled: t.exposeInt('disabled'),
    waitingOnLocks: t.exposeInt('waitingOnLocks', {
      description:
        "Sessions blocked by another session's lock (pg_blocking_pids), as in the subscription samples.",
    }),
    poolpilot: t.exposeInt('poolpilot', { description: "Of total, poolpilot's own connections." }),
    oldestTransactionMs: t.exposeFloat('oldestTransactionMs', { nullable: true }),
    maxConnections: t.exposeInt('maxConnections'),
    serverTotal: t.exposeInt('serverTotal', { description: 'Client connections on the whole server.' }),
    idleInTransactionSessions: t.field({
      type: [SessionInfoRef],
      resolve: (c) => c.idleInTransactionSessions,
    }),
    longRunningSessions: t.field({ type: [SessionInfoRef], resolve: (c) => c.longRunningSessions }),
    blocking: t.field({ type: [BlockingPairRef], resolve: (c) => c.blocking }),
  }),
});

builder.queryField('connectionStates', (t) =>
  t.field({
    type: ConnectionStatesRef,
    description:
      'Counts by state, the oldest transaction, sessions idle in a transaction or running longer than longerThanMs, and who blocks whom.',
    args: {
      longerThanMs: t.arg.int({ defaultValue: 5_000 }),
      allDatabases: t.arg.boolean({
        defaultValue: false,
        description: 'Every database, not only the pooled one.',
      }),
      queryChars: t.arg.int({ defaultValue: 200 }),
    },
    resolve: (_root, args, ctx) =>
      ctx.poolpilot.insights.connectionStates({
        longerThanMs: Math.max(0, args.longerThanMs ?? 5_000),
        allDatabases: args.allDatabases ?? false,
        queryChars: Math.max(1, Math.min(args.queryChars ?? 200, 10_000)),
      }),
  }),
);
