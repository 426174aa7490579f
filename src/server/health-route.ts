import type { ServerResponse } from 'node:http';
import type { Poolpilot } from '../core/index.js';

/** GET /health: liveness and readiness. 200 when ok or degraded, 503 when there is no primary. */
export function healthBody(poolpilot: Poolpilot) {
  const state = poolpilot.poolState();
  const analyzer = poolpilot.analyzer.state();
  return {
    // A broken SQL parser makes every statement unjudged (refused), and an unreachable Redis
    // freezes the connection share: the service is degraded.
    status: poolpilot.status(state),
    analyzer,
    ...(poolpilot.fleet ? { fleet: poolpilot.fleet.state() } : {}),
    service: poolpilot.info().name,
    version: poolpilot.info().version,
    uptimeSeconds: Math.round(poolpilot.info().uptimeSeconds),
    writer: state.writer,
    splitBrain: state.splitBrain,
    fronts: poolpilot.clients.fronts().map((f) => ({ ...f, clients: poolpilot.clients.summary().total })),
    targets: state.targets.map((t) => ({
      name: t.name,
      role: t.role,
      detectedRole: t.detectedRole,
      roleChangedAt: t.roleChangedAt,
      reachable: t.health.status === 'up',
      status: t.health.status,
      reason: t.health.reason,
      lastCheckAt: t.health.lastCheckAt,
      lagBytes: t.replication?.lagBytes ?? null,
      lagMs: t.replication?.lagMs ?? null,
      pool: {
        total: t.pool.total,
        idle: t.pool.idle,
        active: t.pool.active,
        waiting: t.pool.waiting,
        max: t.pool.max,
      },
    })),
  };
}

export function serveHealth(poolpilot: Poolpilot, res: ServerResponse): void {
  const body = healthBody(poolpilot);
  res.writeHead(body.status === 'down' ? 503 : 200, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  });
  res.end(JSON.stringify(body));
}
