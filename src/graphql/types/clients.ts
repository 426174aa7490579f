import type { ClientInfo, ClientSummary, FrontStatus, TrafficCounters } from '../../core/clients/index.js';
import { builder } from '../builder.js';
import { roundMs } from '../rounding.js';

const ClientStateEnum = builder.enumType('ClientState', {
  description: 'What a wire client is doing (PgBouncer: cl_active, cl_waiting, idle).',
  values: {
    IDLE: { value: 'idle', description: 'Between transactions: it holds no server connection.' },
    ACTIVE: { value: 'active', description: 'In a transaction: it holds a server connection.' },
    WAITING: { value: 'waiting', description: 'Waiting for a server connection (or a complex-query slot).' },
  } as const,
});

export const ClientSummaryRef = builder.objectRef<ClientSummary>('ClientSummary').implement({
  description: 'Clients of the PostgreSQL wire front, counted by state (SHOW POOLS: cl_active, cl_waiting).',
  fields: (t) => ({
    total: t.exposeInt('total', { description: 'Clients connected.' }),
    active: t.exposeInt('active', { description: 'Clients holding a server connection (cl_active).' }),
    waiting: t.exposeInt('waiting', { description: 'Clients waiting for a server connection (cl_waiting).' }),
    idle: t.exposeInt('idle', { description: 'Clients between transactions.' }),
    maxWaitMs: t.float({
      description: 'How long the longest-waiting client has waited so far, in ms (maxwait).',
      resolve: (s) => roundMs(s.maxWaitMs),
    }),
  }),
});

export const TrafficRef = builder.objectRef<TrafficCounters>('Traffic').implement({
  description:
    "Wire-front traffic since start-up, in PgBouncer's SHOW STATS terms (times in microseconds, as PgBouncer has them).",
  fields: (t) => ({
    serverAssignments: t.field({
      type: 'SafeInt',
      description: 'Times a client was given a server connection: server_assignment_count.',
      resolve: (c) => c.assignments,
    }),
    transactions: t.field({
      type: 'SafeInt',
      description: 'Transactions (or statements outside one) completed: xact_count.',
      resolve: (c) => c.transactions,
    }),
    statements: t.field({
      type: 'SafeInt',
      description: 'Statements sent (Query and Execute messages): query_count.',
      resolve: (c) => c.statements,
    }),
    transactionTimeUs: t.field({
      type: 'SafeInt',
      description: 'Time spent in transactions, µs: xact_time.',
      resolve: (c) => Math.round(c.transactionTimeUs),
    }),
    statementTimeUs: t.field({
      type: 'SafeInt',
      description: 'Time from a request to its answer, µs: query_time.',
      resolve: (c) => Math.round(c.statementTimeUs),
    }),
    waitTimeUs: t.field({
      type: 'SafeInt',
      description: 'Time clients waited for a server connection, µs: wait_time.',
      resolve: (c) => Math.round(c.waitTimeUs),
    }),
    bytesReceived: t.field({
      type: 'SafeInt',
      description: 'Bytes from clients: bytes_received.',
      resolve: (c) => c.bytesReceived,
    }),
    bytesSent: t.field({
      type: 'SafeInt',
      description: 'Bytes to clients: bytes_sent.',
      resolve: (c) => c.bytesSent,
    }),
  }),
});

const ClientRef = builder.objectRef<ClientInfo>('Client').implement({
  description: 'A client connected through the PostgreSQL wire front (SHOW CLIENTS).',
  fields: (t) => ({
    id: t.exposeInt('id', { description: 'Unique for the life of the process.' }),
    user: t.exposeString('user', { description: 'The user it logged in as.' }),
    database: t.exposeString('database', { description: 'The database it asked for.' }),
    applicationName: t.exposeString('applicationName', {
      description: 'application_name from its startup packet (empty when none).',
    }),
    address: t.exposeString('address', { description: 'Its IP address.' }),
    port: t.exposeInt('port', { description: 'Its TCP port.' }),
    connectedAt: t.field({
      type: 'DateTime',
      description: 'When it connected.',
      resolve: (c) => c.connectedAt,
    }),
    state: t.field({ type: ClientStateEnum, description: 'What it is doing now.', resolve: (c) => c.state }),
    target: t.exposeString('target', {
      nullable: true,
      description: 'The target whose connection it holds now (primary, replica-1, ...); null when idle.',
    }),
    transactionAgeMs: t.float({
      nullable: true,
      description: 'How long its current transaction has run, in ms; null when idle.',
      resolve: (c) => (c.transactionAgeMs === null ? null : roundMs(c.transactionAgeMs)),
    }),
    waitMs: t.float({
      nullable: true,
      description: 'How long it has waited for a connection so far, in ms; null when not waiting.',
      resolve: (c) => (c.waitMs === null ? null : roundMs(c.waitMs)),
    }),
  }),
});

export const FrontRef = builder.objectRef<FrontStatus>('Front').implement({
  description: 'A front that accepts database clients (the PostgreSQL wire front).',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'wire' }),
    listening: t.exposeBoolean('listening', { description: 'Accepting new clients now.' }),
    url: t.exposeString('url', {
      nullable: true,
      description: 'Where it listens (postgres://host:port/database); null when off.',
    }),
  }),
});

builder.queryField('clients', (t) =>
  t.field({
    type: [ClientRef],
    description: 'Clients connected through the PostgreSQL wire front, with what each is doing.',
    resolve: (_root, _args, ctx) => ctx.poolpilot.clients.list(),
  }),
);

builder.queryField('fronts', (t) =>
  t.field({
    type: [FrontRef],
    description: 'The fronts that accept database clients (WIRE_PORT), and where they listen.',
    resolve: (_root, _args, ctx) => ctx.poolpilot.clients.fronts(),
  }),
);
