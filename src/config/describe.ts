import type { Config } from './config.js';

/** The configuration as it may be shown to anyone: endpoints without passwords, token counts per role. */
export function describeConfig(config: Readonly<Config>) {
  return {
    primary: config.primary ? config.primary.endpoint : null,
    admin: config.admin ? config.admin.endpoint : null,
    replicas: config.replicas.map((r) => r.endpoint),
    embedded: config.primary === null,
    pool: { ...config.pool },
    adminPool: { ...config.adminPool },
    replicaMaxLagMs: config.replicaMaxLagMs,
    healthCheckIntervalMs: config.healthCheckIntervalMs,
    queue: { ...config.queue },
    analyzer: { ...config.analyzer, readOnlyFunctions: [...config.analyzer.readOnlyFunctions] },
    routing: { ...config.routing },
    execute: { ...config.execute },
    insights: { ...config.insights },
    dbContainer: config.dbContainer,
    serverMemoryMb: config.serverMemoryMb,
    serverCpus: config.serverCpus,
    host: config.host,
    port: config.port,
    authEnabled: config.tokens.length > 0,
    corsOrigins: [...config.corsOrigins],
    wsMaxSubscriptions: config.wsMaxSubscriptions,
    tokensByRole: {
      viewer: config.tokens.filter((t) => t.role === 'viewer').length,
      operator: config.tokens.filter((t) => t.role === 'operator').length,
      admin: config.tokens.filter((t) => t.role === 'admin').length,
    },
    logLevel: config.logLevel,
    logSlowStatementMs: config.logSlowStatementMs,
    shutdownGraceMs: config.shutdownGraceMs,
    // Verifiers are secrets: only how many users there are.
    wire: {
      port: config.wire.port,
      host: config.wire.host,
      users: config.wire.users.length,
      adminUsers: [...config.wire.adminUsers],
      statsUsers: [...config.wire.statsUsers],
      maxClients: config.wire.maxClients,
      maxPreparedStatements: config.wire.maxPreparedStatements,
      maxClientPreparedStatements: config.wire.maxClientPreparedStatements,
    },
  };
}

export type ConfigDescription = ReturnType<typeof describeConfig>;
