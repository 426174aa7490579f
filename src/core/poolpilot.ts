import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { CoreSettings, TargetConnections } from '../shared/settings.js';
import { Analyzer } from './analyzer/index.js';
import { ADMIN_APPLICATION_NAME, APPLICATION_NAME } from './application-name.js';
import { Audit } from './audit/index.js';
import { ClientRegistry } from './clients/index.js';
import { Fleet, type Member, memberReport } from './fleet/index.js';
import { Insights, QueryObservations } from './insights/index.js';
import type { Logger } from './logger.js';
import { Optimizer } from './optimizer/index.js';
import { Cluster, type ClusterState, type TargetSpec } from './pool/index.js';
import { DATA_ROLE_ATTRIBUTES } from './pool/sql.js';
import { PoolControl } from './pool-control.js';
import { ComplexQueue } from './queue/index.js';
import { ReadYourWrites, ReplayWatch, Router, WalPosition } from './router/index.js';
import {
  type ExecuteOptions,
  type ExecuteResult,
  Session,
  type SessionDeps,
  type Statement,
  type TransactionResult,
} from './session/index.js';
import { CURRENT_WAL_LSN } from './session/sql.js';
import { Telemetry } from './telemetry/index.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export const SERVICE_NAME = APPLICATION_NAME;
export const VERSION: string = pkg.version;

/** What the core needs: its settings and the servers, each with its data and admin connection. */
export interface PoolpilotOptions extends CoreSettings {
  /** The primary to pool against: the configured one, or the embedded one started for it. */
  primary: TargetConnections;
  replicas: TargetConnections[];
  embedded: boolean;
  log: Logger;
}

export interface ServiceInfo {
  name: string;
  version: string;
  startedAt: Date;
  uptimeSeconds: number;
  postgresVersion: string | null;
  embedded: boolean;
}

/**
 * The product without a transport: the cluster of pools and everything built on it. GraphQL,
 * the CLI and the PostgreSQL wire front all hold one of these.
 */
export class Poolpilot {
  readonly options: Readonly<PoolpilotOptions>;
  readonly cluster: Cluster;
  readonly telemetry: Telemetry;
  readonly analyzer: Analyzer;
  readonly router: Router;
  /** Recent writes per session, for read-your-writes. */
  readonly freshness: ReadYourWrites;
  /** Replica replay positions, read often while a write or causal token waits for them. */
  readonly replay: ReplayWatch;
  readonly queue: ComplexQueue;
  /** Clients connected through the wire front, and the traffic per target. */
  readonly clients = new ClientRegistry();
  /** PAUSE, RESUME, RECONNECT, KILL on the pools (admin console, GraphQL). */
  readonly control: PoolControl;
  /** What every session shares: the pools, analyzer, router and queue, and the caps. */
  readonly #sessions: SessionDeps;
  readonly #executed = new Set<(result: ExecuteResult, sql: string) => void>();
  /** poolpilot's own per-shape statement figures, used when pg_stat_statements is missing. */
  readonly observations = new QueryObservations();
  readonly insights: Insights;
  /** The `poolpilot` schema on the primary (versioned migrations) and the apply audit trail. */
  readonly audit: Audit;
  readonly optimizer: Optimizer;
  /** The other instances, through Redis (REDIS_URL); null for a single instance. */
  readonly fleet: Fleet | null;
  readonly log: Logger;
  readonly embedded: boolean;
  readonly startedAt = new Date();

  constructor(options: PoolpilotOptions) {
    this.options = options;
    this.log = options.log;
    this.embedded = options.embedded;
    const { pool, adminPool } = options;
    const spec = (name: string, role: TargetSpec['role'], db: TargetConnections): TargetSpec => ({
      name,
      role,
      connection: { connectionString: db.data.connectionString },
      endpoint: db.data.endpoint,
      admin: { connectionString: db.admin.connectionString },
      adminEndpoint: db.admin.endpoint,
    });
    this.cluster = new Cluster(
      spec('primary', 'primary', options.primary),
      options.replicas.map((r, i) => spec(`replica-${i + 1}`, 'replica', r)),
      {
        pool: { ...pool, applicationName: SERVICE_NAME },
        adminPool: { ...pool, ...adminPool, applicationName: ADMIN_APPLICATION_NAME },
        health: {
          intervalMs: options.healthCheckIntervalMs,
          initialBackoffMs: Math.min(250, options.healthCheckIntervalMs),
          maxBackoffMs: 30_000,
          connectionTimeoutMs: pool.connectionTimeoutMs,
        },
      },
      options.log,
    );
    this.telemetry = new Telemetry({
      cluster: this.cluster,
      applicationName: SERVICE_NAME,
      dbContainer: options.dbContainer,
      // Read at sample time: the queue is created further down.
      queueState: () => this.queue.state(),
      clientState: () => this.clients.summary(),
      log: options.log.child({ component: 'telemetry' }),
    });
    const { analyzer, routing, execute, queue } = options;
    this.analyzer = new Analyzer(
      {
        ...analyzer,
        thresholds: { medium: routing.mediumThreshold, complex: routing.complexThreshold },
        maxSqlBytes: execute.maxSqlBytes,
        queueConcurrency: queue.concurrency,
      },
      () => this.cluster.actingPrimary(),
      options.log.child({ component: 'analyzer' }),
    );
    const freshness = new ReadYourWrites({
      mode: routing.readYourWrites,
      windowMs: routing.readYourWritesWindowMs,
      maxSessions: routing.readYourWritesMaxSessions,
    });
    this.replay = new ReplayWatch(
      this.cluster,
      {
        intervalMs: routing.replayPollMs,
        // Past the window a write no longer holds reads back; a waiting token keeps its own watch.
        giveUpMs: Math.max(routing.readYourWritesWindowMs, routing.causalWaitMs),
      },
      options.log.child({ component: 'replay' }),
    );
    freshness.onRecorded = (lsn) => this.replay.want(lsn);
    this.freshness = freshness;
    this.control = new PoolControl(this.cluster, this.clients);
    this.router = new Router(this.cluster, { replicaMaxLagMs: options.replicaMaxLagMs }, freshness);
    this.queue = new ComplexQueue(queue);
    this.#sessions = {
      cluster: this.cluster,
      analyzer: this.analyzer,
      router: this.router,
      queue: this.queue,
      freshness,
      limits: {
        statementTimeoutMs: pool.statementTimeoutMs,
        maxRows: execute.maxRows,
        maxBytes: execute.maxBytes,
      },
      walPosition: new WalPosition(() => this.cluster.writer().pool, CURRENT_WAL_LSN),
      replay: this.replay,
      causalWaitMs: routing.causalWaitMs,
      log: options.log.child({ component: 'session' }),
      executed: (result, sql) => {
        for (const listener of this.#executed) listener(result, sql);
      },
    };
    // Per-shape figures for every statement a session ran (poolpilot's own carry no shape).
    for (const target of this.cluster.targets) {
      target.pool.observe({
        recorded: (_pool, r) => {
          if (r.shape)
            this.observations.record(r.shape.fingerprint, r.shape.normalized, r.durationMs, r.rows);
        },
      });
    }
    const { insights } = options;
    this.insights = new Insights(this.cluster, this.observations, {
      minCalls: insights.slowQueryMinCalls,
      minMeanMs: insights.slowQueryMinMeanMs,
      partitionMinRows: insights.partitionMinRows,
      idleInTransactionLimitMs: insights.idleInTransactionLimitMs,
      serverMemoryMb: options.serverMemoryMb,
      serverCpus: options.serverCpus,
    });
    this.audit = new Audit(this.cluster, options.log);
    // DB_POOL_SIZE becomes the budget of every target across all instances (see README).
    this.fleet = options.fleet
      ? new Fleet(options.fleet, {
          cluster: this.cluster,
          analyzer: this.analyzer,
          clients: this.clients,
          budget: pool.max,
          log: options.log,
        })
      : null;
    this.optimizer = new Optimizer(this.cluster, this.insights, this.audit.trail, {
      idleInTransactionLimitMs: insights.idleInTransactionLimitMs,
    });
  }

  async start(): Promise<void> {
    await this.analyzer.start();
    // Before the pools warm: their share of the budget decides how many they may open.
    await this.fleet?.start();
    await this.cluster.start();
    await this.audit.start();
    await this.#checkRoles();
  }

  /** Says so when callers' statements would run with more than they should. */
  async #checkRoles(): Promise<void> {
    const { endpoint, adminEndpoint } = this.cluster.primary.spec;
    if (!this.cluster.primary.isUp) return;
    try {
      const { rows } = await this.cluster.primary.admin.query(DATA_ROLE_ATTRIBUTES, [endpoint.user]);
      const role = rows[0] as { rolsuper: boolean; rolcreaterole: boolean } | undefined;
      if (role?.rolsuper || role?.rolcreaterole) {
        this.log.warn(
          { dataRole: endpoint.user, superuser: role.rolsuper, createRole: role.rolcreaterole },
          `callers' statements run as ${endpoint.user}, which can change the server, roles and poolpilot's own schema: connect DATABASE_URL as a role without SUPERUSER or CREATEROLE (see Roles in the README)`,
        );
      }
    } catch (error) {
      this.log.debug({ err: error }, 'could not read the data role attributes');
    }
    if (adminEndpoint.user === endpoint.user) {
      this.log.info(
        { role: endpoint.user },
        'one role for callers and the control plane: set ADMIN_DATABASE_URL to keep callers away from the audit trail',
      );
    }
  }

  info(): ServiceInfo {
    return {
      name: SERVICE_NAME,
      version: VERSION,
      startedAt: this.startedAt,
      uptimeSeconds: (Date.now() - this.startedAt.getTime()) / 1000,
      postgresVersion: this.cluster.primary.serverVersion,
      embedded: this.embedded,
    };
  }

  poolState(): ClusterState {
    return this.cluster.state();
  }

  /**
   * The service as a whole: the targets' verdict, degraded as well while the SQL parser is
   * broken or Redis (REDIS_URL) is unreachable.
   */
  status(state: ClusterState = this.cluster.state()): ClusterState['status'] {
    if (state.status !== 'ok') return state.status;
    if (this.analyzer.state().status !== 'ok' || this.fleet?.degraded) return 'degraded';
    return 'ok';
  }

  /**
   * The live instances of the fleet (REDIS_URL), by name; for a single instance, this one, named
   * host-pid.
   */
  async instances(): Promise<Member[]> {
    if (this.fleet) return this.fleet.members();
    return [
      {
        ...memberReport(this.cluster, this.clients, null),
        name: `${hostname()}-${process.pid}`,
        slot: null,
        startedAt: this.startedAt,
        lastSeen: new Date(),
        alive: true,
      },
    ];
  }

  /**
   * A caller's session: statements routed one by one, transactions pinned to the primary. Its
   * reads see its own writes (READ_YOUR_WRITES=session) by `name`: sessions of one name share
   * them, and unnamed ones (null) share one scope. `ownsName`: no other session will use the
   * name (a wire client's), so its writes are forgotten when it closes.
   */
  session(name: string | null = null, options: { ownsName?: boolean } = {}): Session {
    return new Session(this.#sessions, name, options);
  }

  /** One statement, routed (see Router) and run in session `options.session` (unnamed by default); see Session. */
  execute(
    sql: string,
    params?: unknown[],
    options?: ExecuteOptions & { session?: string | null },
  ): Promise<ExecuteResult> {
    return this.session(options?.session ?? null).execute(sql, params, options);
  }

  /** Several statements atomically on the primary, in session `options.session`. */
  transaction(
    statements: Statement[],
    options?: ExecuteOptions & { session?: string | null },
  ): Promise<TransactionResult> {
    return this.session(options?.session ?? null).transaction(statements, options);
  }

  /** Told of every statement a session completed, with its route (metrics, logs); returns the remover. */
  onExecuted(listener: (result: ExecuteResult, sql: string) => void): () => void {
    this.#executed.add(listener);
    return () => this.#executed.delete(listener);
  }

  async close(graceMs?: number): Promise<void> {
    this.replay.close();
    this.queue.close();
    this.telemetry.close();
    this.audit.stop();
    await this.cluster.close(graceMs);
    await this.fleet?.close();
  }
}
