import { OWN_APPLICATIONS } from '../application-name.js';
import type { Pool } from '../pool/index.js';
import { IDLE_IN_TRANSACTION } from './sql.js';
import { type Optimization, OptimizationKind, optimizationId, round } from './types.js';

/** One TERMINATE_IDLE_IN_TRANSACTION per session idle in a transaction past the limit; never poolpilot's. */
export async function terminateIdle(pool: Pool, limitMs: number): Promise<Optimization[]> {
  const { rows } = await pool.query(IDLE_IN_TRANSACTION, [limitMs, [...OWN_APPLICATIONS]]);
  return rows.map((r) => {
    const pid = r.pid as number;
    const backendStart = r.backend_start as string;
    const idleMs = Number(r.idle_ms);
    const statement = `SELECT pg_terminate_backend(${pid})`;
    return {
      // The pid with its start time: a new session that reuses the pid is a different problem.
      id: optimizationId(OptimizationKind.TerminateIdleInTransaction, `${pid}@${backendStart}`),
      kind: OptimizationKind.TerminateIdleInTransaction,
      title: `Terminate session ${pid} (${r.user ?? '?'}, ${r.application_name || 'no application_name'}), idle in transaction for ${round(idleMs / 1000)} s`,
      rationale:
        `Session ${pid} has been ${r.state} for ${round(idleMs / 1000)} s (transaction open ${round(Number(r.transaction_ms) / 1000)} s), ` +
        `past the ${round(limitMs / 1000)} s limit (IDLE_IN_TRANSACTION_LIMIT_MS). It holds its locks and a connection slot and keeps VACUUM ` +
        `from removing dead rows. Last statement: ${r.query}`,
      risk: 'MEDIUM',
      statements: [statement],
      actionSummary:
        'Terminates the backend: its open transaction is rolled back and its client sees the connection closed. Only if it is still the same session and still idle in a transaction.',
      applicable: true,
      requiresRestart: false,
      evidence: {
        pid,
        user: r.user,
        application: r.application_name,
        state: r.state,
        idleMs,
        transactionMs: Number(r.transaction_ms),
        backendStart,
        query: r.query,
      },
      action: { type: 'terminate', pid, backendStart },
    } satisfies Optimization;
  });
}
