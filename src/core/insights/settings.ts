import type { Pool } from '../pool/index.js';
import { type PoolSizeAdvice, pgtune, poolSizeFor, type ServerSize, type Tuned } from './pgtune.js';
import { SETTINGS } from './sql.js';

export interface SettingAdvice {
  name: string;
  /** pg_settings.setting, in `unit`. */
  setting: string;
  unit: string | null;
  /** The value as people write it (`128MB`, `30s`). */
  current: string;
  /** What to set, as ALTER SYSTEM takes it; null when there is nothing to recommend. */
  recommended: string | null;
  needsChange: boolean;
  reason: string;
  /** pg_settings.context: `postmaster` settings take effect only after a restart. */
  context: string;
  requiresRestart: boolean;
  /** Changed with ALTER SYSTEM but not in effect until the server restarts. */
  pendingRestart: boolean;
  source: string;
  description: string;
}

export interface SettingsReport {
  server: ServerSize;
  /** The guide's pool size for the server's CPUs (null when the CPU count is unknown). */
  poolSize: PoolSizeAdvice | null;
  settings: SettingAdvice[];
}

export interface SettingsContext {
  server: ServerSize;
  /** poolpilot's own pool figures, for max_connections and timeouts. */
  poolMax: number;
  poolIdleTimeoutMs: number;
  statementTimeoutMs: number;
  idleInTransactionLimitMs: number;
}

const TUNED = [
  'shared_buffers',
  'effective_cache_size',
  'work_mem',
  'maintenance_work_mem',
  'wal_buffers',
  'checkpoint_completion_target',
  'default_statistics_target',
  'random_page_cost',
  'effective_io_concurrency',
  'min_wal_size',
  'max_wal_size',
  'max_worker_processes',
  'max_parallel_workers',
  'max_parallel_workers_per_gather',
  'max_parallel_maintenance_workers',
];
const POOLING = [
  'max_connections',
  'superuser_reserved_connections',
  'statement_timeout',
  'idle_in_transaction_session_timeout',
  'idle_session_timeout',
  'lock_timeout',
  'log_min_duration_statement',
];
export const ADVISED_SETTINGS = [...POOLING, ...TUNED];

// Memory settings compare within this margin: PGTune's figures are a starting point, not a target.
const MEMORY_TOLERANCE = 0.1;
// PGTune's connection count for web workloads, used for the work_mem formula.
const PGTUNE_WEB_CONNECTIONS = 200;

export async function settingsAdvice(pool: Pool, ctx: SettingsContext): Promise<SettingsReport> {
  const { rows } = await pool.query(SETTINGS, [ADVISED_SETTINGS]);
  const byName = new Map(rows.map((r) => [r.name as string, r]));
  const maxConnections = Number(byName.get('max_connections')?.setting ?? PGTUNE_WEB_CONNECTIONS);
  const tuned = pgtune(ctx.server, Math.max(maxConnections, 1));
  const reserved = Number(byName.get('superuser_reserved_connections')?.setting ?? 3);
  const settings = ADVISED_SETTINGS.flatMap((name) => {
    const row = byName.get(name);
    if (!row) return [];
    const base = describe(row);
    const advice = recommend(name, base, tuned[name], { ...ctx, reserved, maxConnections });
    return [{ ...base, ...advice }];
  });
  return {
    server: ctx.server,
    poolSize: ctx.server.cpus === null ? null : poolSizeFor(ctx.server.cpus),
    settings,
  };
}

type Base = Omit<SettingAdvice, 'recommended' | 'needsChange' | 'reason'> & { numeric: number | null };
type Advice = Pick<SettingAdvice, 'recommended' | 'needsChange' | 'reason'>;

function describe(r: Record<string, unknown>): Base {
  const unit = (r.unit as string | null) ?? null;
  const setting = r.setting as string;
  const numeric = r.vartype === 'integer' || r.vartype === 'real' ? Number(setting) : null;
  return {
    name: r.name as string,
    setting,
    unit,
    current: pretty(setting, unit),
    context: r.context as string,
    requiresRestart: r.context === 'postmaster',
    pendingRestart: r.pending_restart as boolean,
    source: r.source as string,
    description: r.short_desc as string,
    numeric: numeric === null ? null : toBase(numeric, unit),
  };
}

function recommend(
  name: string,
  s: Base,
  tuned: Tuned | undefined,
  ctx: SettingsContext & { reserved: number; maxConnections: number },
): Advice {
  const current = s.numeric ?? 0;
  switch (name) {
    case 'max_connections': {
      // poolpilot's pool, its health check, a few admin sessions, and the reserved slots.
      const needed = ctx.poolMax + 10 + ctx.reserved;
      if (current >= needed)
        return keep(
          `enough for poolpilot's pool (max ${ctx.poolMax}) plus ${10 + ctx.reserved} spare; with pooling, more connections only add memory and contention`,
        );
      return change(
        String(needed),
        `poolpilot's pool alone may open ${ctx.poolMax}; with health checks, admin sessions and ${ctx.reserved} reserved slots it needs ${needed}`,
      );
    }
    case 'statement_timeout':
      return keep(
        `poolpilot sets statement_timeout=${ctx.statementTimeoutMs}ms on its own connections (DB_STATEMENT_TIMEOUT); a server-wide value would also cut maintenance jobs`,
      );
    case 'idle_in_transaction_session_timeout':
      if (current > 0 && current <= ctx.idleInTransactionLimitMs)
        return keep('the server already ends sessions left idle in a transaction');
      return change(
        `${ctx.idleInTransactionLimitMs}ms`,
        `sessions idle in a transaction hold locks and a pooled connection; the guide ends them after ${duration(ctx.idleInTransactionLimitMs)} (IDLE_IN_TRANSACTION_LIMIT_MS), and the server can do it itself`,
      );
    case 'idle_session_timeout':
      if (current > 0 && current < ctx.poolIdleTimeoutMs)
        return change(
          '0',
          `shorter than poolpilot's DB_IDLE_TIMEOUT (${ctx.poolIdleTimeoutMs} ms): the server would close warm pool connections that poolpilot manages itself`,
        );
      return keep('poolpilot closes its own idle connections after DB_IDLE_TIMEOUT');
    case 'log_min_duration_statement':
      if (current >= 0) return keep('slow statements are logged');
      return change(
        '1000',
        'the guide logs statements slower than 1 s, so slow queries show in the server log even without pg_stat_statements',
      );
    case 'lock_timeout':
    case 'superuser_reserved_connections':
      return keep('no recommendation for pooling');
  }
  if (!tuned) {
    const missing = ctx.server.memoryMb === null ? 'DB_SERVER_MEMORY_MB' : 'DB_SERVER_CPUS';
    return {
      recommended: null,
      needsChange: false,
      reason: `set ${missing} (or run PostgreSQL locally) for a recommendation`,
    };
  }
  const differs =
    s.unit && /B$/.test(s.unit)
      ? Math.abs(current - tuned.value) > tuned.value * MEMORY_TOLERANCE
      : Math.abs(current - tuned.value) > 1e-9;
  return differs ? change(tuned.text, tuned.why) : keep(tuned.why);
}

function keep(reason: string): Advice {
  return { recommended: null, needsChange: false, reason };
}

function change(recommended: string, reason: string): Advice {
  return { recommended, needsChange: true, reason };
}

const UNIT_KB: Record<string, number> = {
  B: 1 / 1024,
  kB: 1,
  '8kB': 8,
  MB: 1024,
  GB: 1024 * 1024,
  TB: 1024 ** 3,
};

/** Memory in kB, time in ms, anything else as is. */
function toBase(value: number, unit: string | null): number {
  if (unit && unit in UNIT_KB) return value * UNIT_KB[unit]!;
  if (unit === 's') return value * 1000;
  if (unit === 'min') return value * 60_000;
  return value;
}

function pretty(setting: string, unit: string | null): string {
  const n = Number(setting);
  if (!unit || Number.isNaN(n)) return setting;
  if (unit in UNIT_KB) {
    const kb = n * UNIT_KB[unit]!;
    if (kb >= 1024 * 1024 && kb % (1024 * 1024) === 0) return `${kb / (1024 * 1024)}GB`;
    if (kb >= 1024 && kb % 1024 === 0) return `${kb / 1024}MB`;
    return `${kb}kB`;
  }
  if (unit === 'ms' && n > 0 && n % 1000 === 0) return `${n / 1000}s`;
  return `${setting}${unit}`;
}

function duration(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}
