/**
 * The settings the core runs on, as plain types with no behaviour. `src/config` parses the
 * environment into them and `src/core` takes them as its options, so neither imports the other.
 */

/** Where a server lives, without its password: safe to log and show. */
export interface TargetEndpoint {
  host: string;
  port: number;
  database: string;
  user: string;
}

export interface DatabaseConnection {
  /** What pg connects with; may contain the password. Never log it. */
  connectionString: string;
  endpoint: TargetEndpoint;
}

/**
 * One server seen through two roles: `data` runs callers' statements (no superuser), `admin` runs
 * poolpilot's own control-plane work (statistics, optimizations, health, the audit trail).
 */
export interface TargetConnections {
  data: DatabaseConnection;
  admin: DatabaseConnection;
}

export interface PoolSettings {
  max: number;
  min: number;
  idleTimeoutMs: number;
  connectionTimeoutMs: number;
  statementTimeoutMs: number;
}

export interface AnalyzerSettings {
  /** Analyses kept (LRU), per cache level. */
  cacheSize: number;
  /** An analysis is re-checked (parse + EXPLAIN) after this long, so plans follow data growth. */
  cacheTtlMs: number;
  /** statement_timeout for the EXPLAIN the analyzer runs. */
  planTimeoutMs: number;
  /** A relation with at least this many rows is "large": scanning it sequentially costs points. */
  largeTableRows: number;
  /** Functions known not to write or lock, on top of the built-in list. */
  readOnlyFunctions: string[];
}

export interface RoutingSettings {
  /** complexity >= this: MEDIUM (a replica). */
  mediumThreshold: number;
  /** complexity >= this: COMPLEX (the queue). */
  complexThreshold: number;
  /** After a write, reads of its tables stay on the primary until a replica replayed it, at most this long. */
  readYourWritesWindowMs: number;
  /** Whose writes a read must see: its own session's (default), everyone's, or nobody's. */
  readYourWrites: 'session' | 'global' | 'off';
  /** Sessions whose recent writes are remembered at once (LRU; older ones hold back everyone's reads until their window ends). */
  readYourWritesMaxSessions: number;
  /** A read with afterLsn waits up to this long for a replica to replay it, then goes to the primary. */
  causalWaitMs: number;
  /** Between readings of a replica's replay position while a write or token waits for it. */
  replayPollMs: number;
}

export interface ExecuteSettings {
  /** Largest SQL text accepted by analyzeQuery/executeQuery, in bytes. */
  maxSqlBytes: number;
  /** Row cap of executeQuery (a smaller one may be asked per call). */
  maxRows: number;
  /** Byte cap of one result's row data: rows past it are dropped and the result is truncated. */
  maxBytes: number;
}

export interface InsightsSettings {
  /** A statement counts as slow with at least this many calls (PgHero: 100)... */
  slowQueryMinCalls: number;
  /** ...and at least this mean time (PgHero: 20 ms). */
  slowQueryMinMeanMs: number;
  /** Sessions idle in a transaction longer than this are suggested for termination (the guide: 30 min). */
  idleInTransactionLimitMs: number;
  /** Tables with fewer live rows are never partition candidates. */
  partitionMinRows: number;
}

/** Several instances as one, coordinated through Redis (REDIS_URL); null: a single instance. */
export interface FleetSettings {
  /** redis:// or rediss:// URL; may contain a password. Never log it. */
  redisUrl: string;
  /** This instance's name among the others (INSTANCE_NAME, default host-pid). */
  instanceName: string;
}

/** Everything the core is tuned by; no ports, tokens or logging (those belong to the surfaces). */
export interface CoreSettings {
  /** The data pool of every target (callers' statements). */
  pool: PoolSettings;
  /** The control-plane pool of every target: small, never counted as the data pool's load. */
  adminPool: { max: number; min: number };
  replicaMaxLagMs: number;
  healthCheckIntervalMs: number;
  queue: { concurrency: number; max: number; timeoutMs: number };
  analyzer: AnalyzerSettings;
  routing: RoutingSettings;
  execute: ExecuteSettings;
  insights: InsightsSettings;
  dbContainer: string | null;
  serverMemoryMb: number | null;
  serverCpus: number | null;
  fleet: FleetSettings | null;
}
