import type { ConfigDescription } from '../../config/index.js';
import { builder } from '../builder.js';

/**
 * ServiceInfo.configuration: the effective configuration, typed. Each field names the variable it
 * comes from, its default and the range start-up accepts; secrets have no field at all.
 */

type Endpoint = NonNullable<ConfigDescription['primary']>;

const EndpointRef = builder.objectRef<Endpoint>('ConfiguredEndpoint').implement({
  description: 'A configured database server, without its password.',
  fields: (t) => ({
    host: t.exposeString('host', { description: 'DB_HOST, or the host of the URL.' }),
    port: t.exposeInt('port', { description: 'DB_PORT, or the port of the URL; 1..65535 (default 5432).' }),
    database: t.exposeString('database', { description: 'DB_NAME, or the database of the URL.' }),
    user: t.exposeString('user', { description: 'DB_USER, or the user of the URL.' }),
  }),
});

const PoolConfigRef = builder.objectRef<ConfigDescription['pool']>('PoolConfiguration').implement({
  description: 'Per-target pool settings as configured at start-up (resizePool changes min and max live).',
  fields: (t) => ({
    max: t.exposeInt('max', { description: 'DB_POOL_SIZE: connections per target, 1..10000 (default 20).' }),
    min: t.exposeInt('min', { description: 'DB_POOL_MIN: connections kept open, 0..max (default 5).' }),
    idleTimeoutMs: t.exposeInt('idleTimeoutMs', {
      description: 'DB_IDLE_TIMEOUT: milliseconds before a surplus idle connection closes (default 30000).',
    }),
    connectionTimeoutMs: t.exposeInt('connectionTimeoutMs', {
      description: 'DB_CONN_TIMEOUT: milliseconds to open a connection or wait for one (default 10000).',
    }),
    statementTimeoutMs: t.exposeInt('statementTimeoutMs', {
      description: 'DB_STATEMENT_TIMEOUT: statement_timeout and the cap of timeoutMs, ms (default 30000).',
    }),
  }),
});

const QueueConfigRef = builder.objectRef<ConfigDescription['queue']>('QueueConfiguration').implement({
  description: 'The complex-query queue.',
  fields: (t) => ({
    capacity: t.int({
      description: 'COMPLEX_QUEUE_CONCURRENCY: complex statements run at once, 1..1000 (default 2).',
      resolve: (q) => q.concurrency,
    }),
    max: t.exposeInt('max', {
      description:
        'COMPLEX_QUEUE_MAX: statements allowed to wait, 0..1000000 (default 100); more: QUEUE_FULL.',
    }),
    timeoutMs: t.exposeInt('timeoutMs', {
      description:
        'COMPLEX_QUEUE_TIMEOUT_MS: longest wait for a slot, ms (default 30000); then QUERY_TIMEOUT.',
    }),
  }),
});

const AnalyzerConfigRef = builder
  .objectRef<ConfigDescription['analyzer']>('AnalyzerConfiguration')
  .implement({
    description: 'The query analyzer.',
    fields: (t) => ({
      cacheSize: t.exposeInt('cacheSize', {
        description: 'ANALYZER_CACHE_SIZE: analyses kept (LRU), 0..1000000 (default 2000).',
      }),
      cacheTtlMs: t.exposeInt('cacheTtlMs', {
        description: 'ANALYZER_CACHE_TTL_MS: an analysis is redone after this long, ms (default 300000).',
      }),
      planTimeoutMs: t.exposeInt('planTimeoutMs', {
        description: 'ANALYZER_PLAN_TIMEOUT_MS: statement_timeout of the EXPLAIN, ms (default 2000).',
      }),
      largeTableRows: t.field({
        type: 'SafeInt',
        description:
          'ANALYZER_LARGE_TABLE_ROWS: rows from which a sequential scan costs points (default 100000).',
        resolve: (a) => a.largeTableRows,
      }),
      readOnlyFunctions: t.exposeStringList('readOnlyFunctions', {
        description: 'READ_ONLY_FUNCTIONS: functions known not to write, on top of the built-in list.',
      }),
    }),
  });

const RoutingConfigRef = builder.objectRef<ConfigDescription['routing']>('RoutingConfiguration').implement({
  description: 'Where statements go by complexity.',
  fields: (t) => ({
    mediumThreshold: t.exposeInt('mediumThreshold', {
      description:
        'ROUTE_MEDIUM_THRESHOLD: complexity from which reads go to a replica, 0..100 (default 20).',
    }),
    complexThreshold: t.exposeInt('complexThreshold', {
      description: 'ROUTE_COMPLEX_THRESHOLD: complexity from which reads are queued, 0..101 (default 50).',
    }),
    readYourWritesWindowMs: t.exposeInt('readYourWritesWindowMs', {
      description:
        "READ_YOUR_WRITES_WINDOW_MS: after a write, the writing session's reads of its tables stay on the primary " +
        'up to this long (default 5000).',
    }),
    readYourWrites: t.field({
      type: ReadYourWritesModeEnum,
      description: "READ_YOUR_WRITES: whose writes a read must see (default SESSION: its own session's).",
      resolve: (r) => r.readYourWrites,
    }),
    readYourWritesMaxSessions: t.exposeInt('readYourWritesMaxSessions', {
      description:
        'READ_YOUR_WRITES_MAX_SESSIONS: sessions whose recent writes are remembered (default 10000).',
    }),
    causalWaitMs: t.exposeInt('causalWaitMs', {
      description:
        'CAUSAL_WAIT_MS: longest a read with afterLsn waits for a replica to replay it before the primary serves it ' +
        '(default 150).',
    }),
    replayPollMs: t.exposeInt('replayPollMs', {
      description:
        "REPLAY_POLL_MS: between readings of a replica's replay position while a write waits for it (default 25).",
    }),
  }),
});

const ReadYourWritesModeEnum = builder.enumType('ReadYourWritesMode', {
  description: 'READ_YOUR_WRITES: whose writes a read must see.',
  values: {
    SESSION: {
      value: 'session',
      description:
        "The reading session's own (a wire client; a named GraphQL session; unnamed calls share one).",
    },
    GLOBAL: {
      value: 'global',
      description: "Everyone's: any recent write holds back every read of its tables.",
    },
    OFF: { value: 'off', description: "Nobody's: reads go by replica lag alone." },
  } as const,
});

const ExecuteConfigRef = builder.objectRef<ConfigDescription['execute']>('ExecuteConfiguration').implement({
  description: 'Limits of analyzeQuery, executeQuery and executeTransaction.',
  fields: (t) => ({
    maxSqlBytes: t.exposeInt('maxSqlBytes', {
      description:
        'MAX_SQL_BYTES: longest SQL text accepted, bytes (default 1048576); longer: BAD_USER_INPUT.',
    }),
    maxRows: t.exposeInt('maxRows', {
      description: 'EXECUTE_MAX_ROWS: row cap of a result and of maxRows (default 10000).',
    }),
  }),
});

const InsightsConfigRef = builder
  .objectRef<ConfigDescription['insights']>('InsightsConfiguration')
  .implement({
    description: 'Thresholds of the insights and suggestions.',
    fields: (t) => ({
      slowQueryMinCalls: t.exposeInt('slowQueryMinCalls', {
        description: 'SLOW_QUERY_MIN_CALLS: calls before a statement can count as slow (default 100).',
      }),
      slowQueryMinMeanMs: t.exposeInt('slowQueryMinMeanMs', {
        description: 'SLOW_QUERY_MIN_MEAN_MS: mean time from which a statement is slow, ms (default 20).',
      }),
      idleInTransactionLimitMs: t.exposeInt('idleInTransactionLimitMs', {
        description:
          'IDLE_IN_TRANSACTION_LIMIT_MS: sessions idle in a transaction longer are suggested for termination ' +
          '(default 1800000).',
      }),
      partitionMinRows: t.field({
        type: 'SafeInt',
        description:
          'PARTITION_MIN_ROWS: live rows from which a table can be a partition candidate (default 1e7).',
        resolve: (i) => i.partitionMinRows,
      }),
    }),
  });

const TokensRef = builder.objectRef<ConfigDescription['tokensByRole']>('TokenCounts').implement({
  description: 'How many API_TOKENS each role has (the tokens themselves are never shown).',
  fields: (t) => ({
    viewer: t.exposeInt('viewer', { description: 'Tokens with the viewer role.' }),
    operator: t.exposeInt('operator', { description: 'Tokens with the operator role.' }),
    admin: t.exposeInt('admin', { description: 'Tokens with the admin role.' }),
  }),
});

export const ServiceConfigurationRef = builder
  .objectRef<ConfigDescription>('ServiceConfiguration')
  .implement({
    description: 'The effective configuration, from the environment, validated at start-up.',
    fields: (t) => ({
      primary: t.field({
        type: EndpointRef,
        nullable: true,
        description: 'DATABASE_URL or DB_HOST...; null when poolpilot runs its embedded PostgreSQL.',
        resolve: (c) => c.primary,
      }),
      replicas: t.field({
        type: [EndpointRef],
        description: 'DB_REPLICA_URLS, in order (replica-1, replica-2, ...).',
        resolve: (c) => c.replicas,
      }),
      embedded: t.exposeBoolean('embedded', {
        description: 'No database configured: the embedded PostgreSQL 16.',
      }),
      pool: t.field({ type: PoolConfigRef, description: 'Pool settings.', resolve: (c) => c.pool }),
      replicaMaxLagMs: t.exposeInt('replicaMaxLagMs', {
        description: 'DB_REPLICA_MAX_LAG_MS: replicas lagging more are skipped, ms (default 5000).',
      }),
      healthCheckIntervalMs: t.exposeInt('healthCheckIntervalMs', {
        description: 'HEALTH_CHECK_INTERVAL_MS: time between health checks, ms (default 2000).',
      }),
      queue: t.field({
        type: QueueConfigRef,
        description: 'The complex-query queue.',
        resolve: (c) => c.queue,
      }),
      analyzer: t.field({
        type: AnalyzerConfigRef,
        description: 'The analyzer.',
        resolve: (c) => c.analyzer,
      }),
      routing: t.field({
        type: RoutingConfigRef,
        description: 'Routing thresholds.',
        resolve: (c) => c.routing,
      }),
      execute: t.field({
        type: ExecuteConfigRef,
        description: 'Execution limits.',
        resolve: (c) => c.execute,
      }),
      insights: t.field({
        type: InsightsConfigRef,
        description: 'Insight thresholds.',
        resolve: (c) => c.insights,
      }),
      dbContainer: t.exposeString('dbContainer', {
        nullable: true,
        description: 'DB_CONTAINER: the Docker container of PostgreSQL, for CPU samples; null when unset.',
      }),
      serverMemoryMb: t.exposeInt('serverMemoryMb', {
        nullable: true,
        description: "DB_SERVER_MEMORY_MB: the database server's memory, for tuning advice; null when unset.",
      }),
      serverCpus: t.exposeInt('serverCpus', {
        nullable: true,
        description: "DB_SERVER_CPUS: the database server's CPUs, for tuning advice; null when unset.",
      }),
      host: t.exposeString('host', { description: 'HOST: the address HTTP listens on (default 127.0.0.1).' }),
      port: t.exposeInt('port', {
        description: 'PORT: the HTTP port, 0..65535 (default 3338; 0 = any free).',
      }),
      authEnabled: t.exposeBoolean('authEnabled', { description: 'API_TOKENS is set.' }),
      tokensByRole: t.field({
        type: TokensRef,
        description: 'API_TOKENS per role.',
        resolve: (c) => c.tokensByRole,
      }),
      logLevel: t.exposeString('logLevel', {
        description: 'LOG_LEVEL: fatal, error, warn, info (default), debug, trace or silent.',
      }),
      logSlowStatementMs: t.exposeInt('logSlowStatementMs', {
        description: 'LOG_SLOW_STATEMENT_MS: statements slower are logged, ms (default 1000; 0 = off).',
      }),
      shutdownGraceMs: t.exposeInt('shutdownGraceMs', {
        description: 'SHUTDOWN_GRACE_MS: how long in-flight work may finish on SIGTERM, ms (default 30000).',
      }),
    }),
  });
