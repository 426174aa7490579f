import type { Pool } from '../pool/index.js';
import { CONNECTION_STATES_SQL } from './sql.js';

/** Session counts by `pg_stat_activity.state`. */
export interface StateCounts {
  total: number;
  active: number;
  idle: number;
  idleInTransaction: number;
  idleInTransactionAborted: number;
  fastpathFunctionCall: number;
  disabled: number;
  /** No state visible (another user's session without pg_read_all_stats). */
  unknown: number;
  /** Sessions blocked by another session's lock (`pg_blocking_pids`). */
  waitingOnLocks: number;
  oldestTransactionAgeMs: number | null;
  oldestIdleInTransactionAgeMs: number | null;
}

export interface StateGroup extends StateCounts {
  name: string;
}

export interface ConnectionStatesSample extends StateCounts {
  at: Date;
  seq: number;
  intervalMs: number;
  /** The server sampled (poolpilot's primary). */
  target: string;
  /** Active sessions by wait-event type; `CPU` for those not waiting. */
  byWaitEventType: { type: string; count: number }[];
  byApplication: (StateGroup & { own: boolean })[];
  byDatabase: StateGroup[];
  /** poolpilot's own connections (its application_name) and everyone else's. */
  own: StateCounts;
  others: StateCounts;
  /** Why this sample is empty (the primary is down, say); null when it is complete. */
  error: string | null;
}

export interface ActivityRow {
  state: string;
  wait_event_type: string | null;
  database: string;
  /** The session is in the database this query ran in (the pooled one). */
  current_database: boolean;
  application: string;
  own: boolean;
  blocked: boolean;
  xact_age_ms: number | null;
  state_age_ms: number | null;
}

const STATE_KEYS: Record<string, keyof StateCounts> = {
  active: 'active',
  idle: 'idle',
  'idle in transaction': 'idleInTransaction',
  'idle in transaction (aborted)': 'idleInTransactionAborted',
  'fastpath function call': 'fastpathFunctionCall',
  disabled: 'disabled',
};

function emptyCounts(): StateCounts {
  return {
    total: 0,
    active: 0,
    idle: 0,
    idleInTransaction: 0,
    idleInTransactionAborted: 0,
    fastpathFunctionCall: 0,
    disabled: 0,
    unknown: 0,
    waitingOnLocks: 0,
    oldestTransactionAgeMs: null,
    oldestIdleInTransactionAgeMs: null,
  };
}

const older = (a: number | null, b: number | null) => (b === null ? a : a === null ? b : Math.max(a, b));

function count(into: StateCounts, row: ActivityRow): void {
  into.total += 1;
  const key = STATE_KEYS[row.state] ?? 'unknown';
  (into[key] as number) += 1;
  if (row.blocked) into.waitingOnLocks += 1;
  into.oldestTransactionAgeMs = older(into.oldestTransactionAgeMs, row.xact_age_ms);
  if (key === 'idleInTransaction' || key === 'idleInTransactionAborted') {
    into.oldestIdleInTransactionAgeMs = older(into.oldestIdleInTransactionAgeMs, row.state_age_ms);
  }
}

function grouped<T extends StateGroup>(groups: Map<string, T>): T[] {
  return [...groups.values()].sort((a, b) => b.total - a.total || a.name.localeCompare(b.name));
}

/** Folds pg_stat_activity rows into one sample's counts (pure: the sampler and tests share it). */
export function summarizeActivity(
  rows: ActivityRow[],
): Omit<ConnectionStatesSample, 'at' | 'seq' | 'intervalMs' | 'target' | 'error'> {
  const all = emptyCounts();
  const own = emptyCounts();
  const others = emptyCounts();
  const waits = new Map<string, number>();
  const apps = new Map<string, StateGroup & { own: boolean }>();
  const databases = new Map<string, StateGroup>();
  for (const row of rows) {
    count(all, row);
    count(row.own ? own : others, row);
    if (row.state === 'active') {
      const type = row.wait_event_type ?? 'CPU';
      waits.set(type, (waits.get(type) ?? 0) + 1);
    }
    const appKey = `${row.own ? 1 : 0}:${row.application}`;
    const app = apps.get(appKey) ?? { name: row.application, own: row.own, ...emptyCounts() };
    apps.set(appKey, app);
    count(app, row);
    const db = databases.get(row.database) ?? { name: row.database, ...emptyCounts() };
    databases.set(row.database, db);
    count(db, row);
  }
  return {
    ...all,
    byWaitEventType: [...waits].map(([type, n]) => ({ type, count: n })).sort((a, b) => b.count - a.count),
    byApplication: grouped(apps),
    byDatabase: grouped(databases),
    own,
    others,
  };
}

/** Every client session on the server but the asking one, with what counting needs. */
export async function readActivity(pool: Pool, ownApplicationName: string): Promise<ActivityRow[]> {
  const result = await pool.query(CONNECTION_STATES_SQL, [ownApplicationName]);
  return result.rows as unknown as ActivityRow[];
}

/**
 * Samples `pg_stat_activity` on `target` through `read` (one query, shared by the samplers of
 * every interval while it runs).
 */
export function connectionStatesTaker(
  intervalMs: number,
  target: string,
  read: () => Promise<ActivityRow[]>,
): () => Promise<ConnectionStatesSample> {
  let seq = 0;
  return async () => {
    const head = { at: new Date(), seq: ++seq, intervalMs, target };
    try {
      return { ...head, ...summarizeActivity(await read()), error: null };
    } catch (error) {
      return { ...head, ...summarizeActivity([]), error: (error as Error).message };
    }
  };
}
