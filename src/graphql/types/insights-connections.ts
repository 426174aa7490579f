import type { BlockingPair, ConnectionStates, SessionInfo } from '../../core/insights/index.js';
import { builder } from '../builder.js';
import { roundMs } from '../rounding.js';
import { SessionStateEnum, sessionState } from './session-state.js';

const SessionInfoRef = builder.objectRef<SessionInfo>('SessionInfo').implement({
  description: 'A session from pg_stat_activity.',
  fields: (t) => ({
    pid: t.exposeInt('pid', { description: 'Backend process id (pg_terminate_backend takes it).' }),
    user: t.exposeString('user', { nullable: true, description: 'The role; null when hidden.' }),
    application: t.exposeString('application', { description: 'application_name (empty when unset).' }),
    database: t.exposeString('database', { nullable: true, description: 'The database; null when hidden.' }),
    clientAddr: t.exposeString('clientAddr', {
      nullable: true,
      description: 'Client address; null for Unix sockets or when hidden.',
    }),
    sessionState: t.field({
      type: SessionStateEnum,
      description: 'What the session is doing.',
      resolve: (s) => sessionState(s.state),
    }),
    state: t.exposeString('state', {
      nullable: true,
      description: 'pg_stat_activity.state as PostgreSQL writes it (idle in transaction, ...).',
      deprecationReason: 'Use sessionState, the same as an enum.',
    }),
    waitEventType: t.exposeString('waitEventType', {
      nullable: true,
      description: 'wait_event_type (Lock, IO, Client, ...); null when not waiting.',
    }),
    waitEvent: t.exposeString('waitEvent', {
      nullable: true,
      description: 'wait_event; null when not waiting.',
    }),
    backendStart: t.field({
      type: 'DateTime',
      description: 'When the connection was opened.',
      resolve: (s) => s.backendStart,
    }),
    transactionStart: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When its transaction began; null outside a transaction.',
      resolve: (s) => s.transactionStart,
    }),
    transactionAgeMs: t.float({
      nullable: true,
      description: 'Age of the open transaction, milliseconds (3 decimals); null outside a transaction.',
      resolve: (s) => roundMs(s.transactionMs),
    }),
    stateAgeMs: t.float({
      nullable: true,
      description: 'Time in the current state (running the statement, or idle), milliseconds (3 decimals).',
      resolve: (s) => roundMs(s.stateMs),
    }),
    query: t.exposeString('query', { description: 'Current or last statement, truncated to queryChars.' }),
    own: t.boolean({ description: "One of poolpilot's own connections.", resolve: (s) => s.poolpilot }),
    poolpilot: t.exposeBoolean('poolpilot', {
      description: "One of poolpilot's own connections.",
      deprecationReason: 'Use own, the name the connectionStates samples use.',
    }),
  }),
});

const BlockingPairRef = builder.objectRef<BlockingPair>('BlockingPair').implement({
  description: 'A session waiting on a lock and the session holding it (pg_blocking_pids).',
  fields: (t) => ({
    blockedPid: t.exposeInt('blockedPid', { description: 'pid of the waiting session.' }),
    blockedUser: t.exposeString('blockedUser', {
      nullable: true,
      description: 'Its role; null when hidden.',
    }),
    blockedApplication: t.exposeString('blockedApplication', { description: 'Its application_name.' }),
    blockedQuery: t.exposeString('blockedQuery', { description: 'The statement waiting, truncated.' }),
    waitingMs: t.float({
      nullable: true,
      description: 'How long it has waited, milliseconds (3 decimals).',
      resolve: (b) => roundMs(b.waitingMs),
    }),
    blockingPid: t.exposeInt('blockingPid', { description: 'pid of the session holding the lock.' }),
    blockingUser: t.exposeString('blockingUser', {
      nullable: true,
      description: 'Its role; null when hidden.',
    }),
    blockingApplication: t.exposeString('blockingApplication', { description: 'Its application_name.' }),
    blockingSessionState: t.field({
      type: SessionStateEnum,
      description: 'What the holder is doing (IDLE_IN_TRANSACTION: a client that went quiet).',
      resolve: (b) => sessionState(b.blockingState),
    }),
    blockingState: t.exposeString('blockingState', {
      nullable: true,
      description: "The holder's pg_stat_activity.state as PostgreSQL writes it.",
      deprecationReason: 'Use blockingSessionState, the same as an enum.',
    }),
    blockingQuery: t.exposeString('blockingQuery', {
      description: "The holder's current or last statement, truncated.",
    }),
  }),
});

const ConnectionStatesRef = builder.objectRef<ConnectionStates>('ConnectionStates').implement({
  description:
    'Client connections by state (pg_stat_activity), now: the pooled database, or all with allDatabases. ' +
    'The connectionStates subscription has the same counts with the same names.',
  fields: (t) => ({
    total: t.exposeInt('total', { description: 'Client sessions counted.' }),
    active: t.exposeInt('active', { description: 'Running a statement.' }),
    idle: t.exposeInt('idle', { description: 'Waiting for a command.' }),
    idleInTransaction: t.exposeInt('idleInTransaction', { description: 'Inside a transaction, waiting.' }),
    idleInTransactionAborted: t.exposeInt('idleInTransactionAborted', {
      description: 'Inside a failed transaction, waiting for ROLLBACK.',
    }),
    fastpathFunctionCall: t.int({
      description: 'Running a fast-path function call.',
      resolve: (c) => c.fastpath,
    }),
    fastpath: t.exposeInt('fastpath', {
      description: 'Running a fast-path function call.',
      deprecationReason: 'Use fastpathFunctionCall, the name the connectionStates samples use.',
    }),
    disabled: t.exposeInt('disabled', { description: 'track_activities off.' }),
    waitingOnLocks: t.exposeInt('waitingOnLocks', {
      description:
        "Sessions blocked by another session's lock (pg_blocking_pids), as in the subscription samples.",
    }),
    own: t.int({
      description: "Of total, poolpilot's own connections (the samples' own.total).",
      resolve: (c) => c.poolpilot,
    }),
    poolpilot: t.exposeInt('poolpilot', {
      description: "Of total, poolpilot's own connections.",
      deprecationReason: 'Use own, the name the connectionStates samples use.',
    }),
    oldestTransactionAgeMs: t.float({
      nullable: true,
      description: 'Age of the oldest open transaction, milliseconds (3 decimals); null when none is open.',
      resolve: (c) => roundMs(c.oldestTransactionMs),
    }),
    oldestTransactionMs: t.float({
      nullable: true,
      description: 'Age of the oldest open transaction, milliseconds.',
      deprecationReason: 'Use oldestTransactionAgeMs, the name the connectionStates samples use.',
      resolve: (c) => roundMs(c.oldestTransactionMs),
    }),
    maxConnections: t.exposeInt('maxConnections', { description: 'max_connections of the server.' }),
    serverTotal: t.exposeInt('serverTotal', { description: 'Client connections on the whole server.' }),
    idleInTransactionSessions: t.field({
      type: [SessionInfoRef],
      description: 'Sessions idle in a transaction for at least longerThanMs, longest first.',
      resolve: (c) => c.idleInTransactionSessions,
    }),
    longRunningSessions: t.field({
      type: [SessionInfoRef],
      description: 'Sessions running one statement for at least longerThanMs, longest first.',
      resolve: (c) => c.longRunningSessions,
    }),
    blocking: t.field({
      type: [BlockingPairRef],
      description: 'Who waits on whose lock, now.',
      resolve: (c) => c.blocking,
    }),
  }),
});

builder.queryField('connectionStates', (t) =>
  t.field({
    type: ConnectionStatesRef,
    description:
      'Counts by state, the oldest transaction, sessions idle in a transaction or running longer than longerThanMs, and who blocks whom.',
    args: {
      longerThanMs: t.arg.int({
        defaultValue: 5_000,
        description: 'Sessions in one state at least this long are listed, milliseconds (negative = 0).',
      }),
      allDatabases: t.arg.boolean({
        defaultValue: false,
        description: 'Every database, not only the pooled one.',
      }),
      queryChars: t.arg.int({
        defaultValue: 200,
        description: 'Statement text kept per session, characters, clamped to 1..10000.',
      }),
    },
    resolve: (_root, args, ctx) =>
      ctx.poolpilot.insights.connectionStates({
        longerThanMs: Math.max(0, args.longerThanMs ?? 5_000),
        allDatabases: args.allDatabases ?? false,
        queryChars: Math.max(1, Math.min(args.queryChars ?? 200, 10_000)),
      }),
  }),
);
