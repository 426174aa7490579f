import { APPLICATION_NAME, isOwnApplication } from '../application-name.js';
import type { Pool } from '../pool/index.js';
import { readActivity, summarizeActivity } from '../telemetry/index.js';
import { BLOCKING, LONG_SESSIONS, MAX_CONNECTIONS } from './sql.js';

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
  const [rows, settings, sessions, blocking] = await Promise.all([
    readActivity(pool, APPLICATION_NAME),
    pool.query(MAX_CONNECTIONS),
    pool.query(LONG_SESSIONS, [all, longerThanMs, chars]),
    pool.query(BLOCKING, [all, chars]),
  ]);
  // The same counting as the connectionStates subscription's samples, over this database's
  // sessions (or every database's).
  const c = summarizeActivity(all ? rows : rows.filter((r) => r.current_database));
  const list = sessions.rows.map(toSession);
  return {
    total: c.total,
    active: c.active,
    idle: c.idle,
    idleInTransaction: c.idleInTransaction,
    idleInTransactionAborted: c.idleInTransactionAborted,
    fastpath: c.fastpathFunctionCall,
    disabled: c.disabled,
    waitingOnLocks: c.waitingOnLocks,
    poolpilot: c.own.total,
    oldestTransactionMs: c.oldestTransactionAgeMs,
    maxConnections: settings.rows[0]!.max_connections as number,
    // Client sessions on the whole server, this one included.
    serverTotal: rows.length + 1,
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
