import { APPLICATION_NAME, isOwnApplication } from '../application-name.js';
import type { Pool } from '../pool/index.js';
import { BLOCKING, CONNECTION_COUNTS, LONG_SESSIONS } from './sql.js';

export interface SessionInfo {
  pid: number;
  user: string | null;
  application: string;
  database: string | null;
  clientAddr: string | null;
  state: string | null;
  waitEventType: string | null;
  waitEvent: string | null;
  backendStart: Date;
  transactionStart: Date | null;
  /** Age of the open transaction, ms; null outside a transaction. */
  transactionMs: number | null;
  /** Time in the current state (running the statement, or idle in the transaction), ms. */
  stateMs: number | null;
  /** Truncated to `queryChars`. */
  query: string;
  poolpilot: boolean;
}

export interface BlockingPair {
  blockedPid: number;
  blockedUser: string | null;
  blockedApplication: string;
  blockedQuery: string;
  waitingMs: number | null;
  blockingPid: number;
  blockingUser: string | null;
  blockingApplication: string;
  blockingState: string | null;
  blockingQuery: string;
}

export interface ConnectionStates {
  total: number;
  active: number;
  idle: number;
  idleInTransaction: number;
  idleInTransactionAborted: number;
  fastpath: number;
  disabled: number;
  waitingOnLocks: number;
  /** Of `total`, the connections poolpilot itself holds. */
  poolpilot: number;
  oldestTransactionMs: number | null;
  maxConnections: number;
  /** Client connections on the whole server, against max_connections. */
  serverTotal: number;
  idleInTransactionSessions: SessionInfo[];
  longRunningSessions: SessionInfo[];
  blocking: BlockingPair[];
}

export interface ConnectionStatesOptions {
  /** Sessions in one state longer than this are listed (default 5 s). */
  longerThanMs?: number;
  /** Every database on the server instead of the pooled one. */
  allDatabases?: boolean;
  queryChars?: number;
}

export async function connectionStates(
  pool: Pool,
  options: ConnectionStatesOptions = {},
): Promise<ConnectionStates> {
  const all = options.allDatabases ?? false;
  const longerThanMs = options.longerThanMs ?? 5_000;
  const chars = options.queryChars ?? 200;
  const [counts, sessions, blocking] = await Promise.all([
    pool.query(CONNECTION_COUNTS, [all, APPLICATION_NAME]),
    pool.query(LONG_SESSIONS, [all, longerThanMs, chars]),
    pool.query(BLOCKING, [all, chars]),
  ]);
  const c = counts.rows[0]!;
  const list = sessions.rows.map(toSession);
  return {
    total: c.total as number,
    active: c.active as number,
    idle: c.idle as number,
    idleInTransaction: c.idle_in_transaction as number,
    idleInTransactionAborted: c.idle_in_transaction_aborted as number,
    fastpath: c.fastpath as number,
    disabled: c.disabled as number,
    waitingOnLocks: c.waiting_on_locks as number,
    poolpilot: c.poolpilot as number,
    oldestTransactionMs: numberOrNull(c.oldest_transaction_ms),
    maxConnections: c.max_connections as number,
    serverTotal: c.server_total as number,
    idleInTransactionSessions: list.filter((s) => s.state?.startsWith('idle in transaction')),
    longRunningSessions: list.filter((s) => s.state === 'active'),
    blocking: blocking.rows.map((r) => ({
      blockedPid: r.blocked_pid as number,
      blockedUser: r.blocked_user as string | null,
      blockedApplication: (r.blocked_application as string) ?? '',
      blockedQuery: (r.blocked_query as string) ?? '',
      waitingMs: numberOrNull(r.waiting_ms),
      blockingPid: r.blocking_pid as number,
      blockingUser: r.blocking_user as string | null,
      blockingApplication: (r.blocking_application as string) ?? '',
      blockingState: r.blocking_state as string | null,
      blockingQuery: (r.blocking_query as string) ?? '',
    })),
  };
}

function toSession(r: Record<string, unknown>): SessionInfo {
  const application = (r.application_name as string) ?? '';
  return {
    pid: r.pid as number,
    user: r.user as string | null,
    application,
    database: r.database as string | null,
    clientAddr: r.client_addr as string | null,
    state: r.state as string | null,
    waitEventType: r.wait_event_type as string | null,
    waitEvent: r.wait_event as string | null,
    backendStart: r.backend_start as Date,
    transactionStart: r.xact_start as Date | null,
    transactionMs: numberOrNull(r.transaction_ms),
    stateMs: numberOrNull(r.state_ms),
    query: (r.query as string) ?? '',
    poolpilot: isOwnApplication(application),
  };
}

export function numberOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}
