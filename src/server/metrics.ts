import type { ServerResponse } from 'node:http';
import { getOperationAST, Kind, type OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Poolpilot } from '../core/index.js';
import type { TargetState } from '../core/pool/index.js';
import { registerServiceMetrics } from './metrics-services.js';

/**
 * GET /metrics: Prometheus text format. Pool figures use PgBouncer's vocabulary so existing
 * dashboards and alerts read naturally (`cl_waiting`, `sv_idle`, `maxwait`). Gauges are read
 * from `poolState()` at scrape time; histograms are fed per event through pool observers, so
 * their buckets are exact counts since start-up rather than the windowed percentiles of poolStats.
 * Routing, the queue and the samplers are in `metrics-services.ts`.
 *
 * Every registry is private to one app so several servers in one process never share series.
 */

export interface Metrics {
  registry: Registry;
  /** Yoga/envelop plugin counting GraphQL operations per root field (bounded by the schema). */
  plugin: Plugin;
  serve(res: ServerResponse, head?: boolean): Promise<void>;
  /** Detaches the pool observers. */
  close(): void;
}

const PREFIX = 'poolpilot_';
const WAIT_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const QUERY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

export function createMetrics(poolpilot: Poolpilot): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'poolpilot' });
  collectDefaultMetrics({ register: registry, prefix: PREFIX });
  const labelNames = ['target', 'role'] as const;
  const roleOf = new Map(poolpilot.cluster.targets.map((t) => [t.name, t.configuredRole]));

  // One snapshot per scrape, shared by every gauge's collect().
  let snapshot: { at: number; targets: TargetState[] } | null = null;
  const targets = () => {
    if (!snapshot || Date.now() - snapshot.at > 100) {
      snapshot = { at: Date.now(), targets: poolpilot.poolState().targets };
    }
    return snapshot.targets;
  };

  const splitBrain = () => poolpilot.cluster.splitBrain() !== null;
  const poolGauge = (name: string, help: string, pick: (t: TargetState) => number | null) =>
    new Gauge({
      name: PREFIX + name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const t of targets()) {
          const value = pick(t);
          if (value !== null) this.set({ target: t.name, role: t.role }, value);
        }
      },
    });
  const poolCounter = (name: string, help: string, pick: (t: TargetState) => number) =>
    new Counter({
      name: PREFIX + name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        // The pool keeps the running totals; the counter mirrors them at scrape time.
        this.reset();
        for (const t of targets()) this.inc({ target: t.name, role: t.role }, pick(t));
      },
    });

  poolGauge('cl_active', 'Callers holding a connection (PgBouncer cl_active).', (t) => t.pool.active);
  poolGauge('cl_waiting', 'Callers waiting for a connection (PgBouncer cl_waiting).', (t) => t.pool.waiting);
  poolGauge('sv_active', 'Server connections lent to a caller (PgBouncer sv_active).', (t) => t.pool.active);
  poolGauge('sv_idle', 'Server connections open and free (PgBouncer sv_idle).', (t) => t.pool.idle);
  poolGauge('sv_login', 'Server connections being opened (PgBouncer sv_login).', (t) => t.pool.connecting);
  poolGauge(
    'maxwait_seconds',
    'How long the oldest waiting caller has waited (PgBouncer maxwait).',
    (t) => t.pool.maxWaitMs / 1000,
  );
  poolGauge('pool_size_max', 'Largest number of connections the pool may open.', (t) => t.pool.max);
  poolGauge('pool_size_min', 'Connections the pool keeps warm.', (t) => t.pool.min);
  poolGauge('pool_utilization_ratio', 'Active connections / max, 0..1.', (t) => t.pool.utilization / 100);
  poolGauge('target_up', '1 when health checks reach the target, else 0.', (t) =>
    t.health.status === 'up' ? 1 : 0,
  );
  poolGauge(
    'target_writer',
    '1 for the target writes go to now (the one reporting being a primary), else 0.',
    (t) => (t.health.status === 'up' && t.detectedRole === 'primary' && !splitBrain() ? 1 : 0),
  );
  poolGauge(
    'target_detected_primary',
    '1 when the target reports being a primary (not in recovery, not read-only), else 0.',
    (t) => (t.health.status === 'up' && t.detectedRole === 'primary' ? 1 : 0),
  );
  poolCounter(
    'role_changes_total',
    'Times a health check found the target in another role than before (promotion, demotion).',
    (t) => t.roleChanges,
  );
  poolGauge(
    'replica_lag_bytes',
    'WAL bytes written by the primary not yet replayed.',
    (t) => t.replication?.lagBytes ?? null,
  );
  poolGauge('replica_lag_seconds', 'Time since the last replayed transaction when replay is behind.', (t) =>
    t.replication?.lagMs == null ? null : t.replication.lagMs / 1000,
  );
  poolCounter('connections_opened_total', 'Server connections opened.', (t) => t.pool.connectionsOpened);
  poolCounter('connections_closed_total', 'Server connections closed.', (t) => t.pool.connectionsClosed);
  poolCounter(
    'connect_errors_total',
    'Failed attempts to open a server connection.',
    (t) => t.pool.connectErrors,
  );
  poolCounter(
    'acquire_timeouts_total',
    'Callers that gave up waiting for a connection.',
    (t) => t.pool.acquireTimeouts,
  );
  poolCounter(
    'statement_timeouts_total',
    'Statements cancelled by statement_timeout.',
    (t) => t.pool.timeouts,
  );

  const acquireWait = new Histogram({
    name: `${PREFIX}acquire_wait_seconds`,
    help: 'Time from asking the pool for a connection to getting one.',
    labelNames,
    buckets: WAIT_BUCKETS,
    registers: [registry],
  });
  const queryDuration = new Histogram({
    name: `${PREFIX}query_duration_seconds`,
    help: 'Statement time on a pooled connection, by target and outcome.',
    labelNames: [...labelNames, 'outcome'],
    buckets: QUERY_BUCKETS,
    registers: [registry],
  });
  const detach = poolpilot.cluster.targets.map((t) =>
    t.pool.observe({
      acquired: (pool, ms) => acquireWait.observe({ target: pool, role: roleOf.get(pool) }, ms / 1000),
      queried: (pool, ms, error) =>
        queryDuration.observe(
          { target: pool, role: roleOf.get(pool), outcome: error === undefined ? 'ok' : 'error' },
          ms / 1000,
        ),
    }),
  );

  const detachServices = registerServiceMetrics(registry, poolpilot);

  const operations = new Counter({
    name: `${PREFIX}graphql_operations_total`,
    help: 'GraphQL operations executed, per root field.',
    labelNames: ['type', 'field', 'outcome'],
    registers: [registry],
  });
  const operationDuration = new Histogram({
    name: `${PREFIX}graphql_operation_duration_seconds`,
    help: 'GraphQL execution time (queries and mutations; subscriptions count their set-up).',
    labelNames: ['type'],
    buckets: QUERY_BUCKETS,
    registers: [registry],
  });
  const count = (operation: OperationDefinitionNode | null | undefined, failed: boolean, seconds: number) => {
    if (!operation) return;
    const type = operation.operation;
    for (const selection of operation.selectionSet.selections) {
      const field = selection.kind === Kind.FIELD ? selection.name.value : '(fragment)';
      operations.inc({ type, field, outcome: failed ? 'error' : 'ok' });
    }
    operationDuration.observe({ type }, seconds);
  };
  const plugin: Plugin = {
    onExecute({ args }) {
      const started = performance.now();
      const operation = getOperationAST(args.document, args.operationName);
      return {
        onExecuteDone({ result }) {
          const failed = 'errors' in result && Array.isArray(result.errors) && result.errors.length > 0;
          count(operation, failed, (performance.now() - started) / 1000);
        },
      };
    },
    onSubscribe({ args }) {
      const started = performance.now();
      const operation = getOperationAST(args.document, args.operationName);
      return {
        onSubscribeResult() {
          count(operation, false, (performance.now() - started) / 1000);
        },
        onSubscribeError() {
          count(operation, true, (performance.now() - started) / 1000);
        },
      };
    },
  };

  return {
    registry,
    plugin,
    serve: async (res, head = false) => {
      const body = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
      res.end(head ? undefined : body);
    },
    close: () => {
      for (const off of detach) off();
      detachServices();
    },
  };
}
