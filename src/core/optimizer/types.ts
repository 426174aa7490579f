import { createHash } from 'node:crypto';

export const OptimizationKind = {
  PoolResize: 'POOL_RESIZE',
  SettingChange: 'SETTING_CHANGE',
  EnablePgStatStatements: 'ENABLE_PG_STAT_STATEMENTS',
  SlowQueryLogging: 'SLOW_QUERY_LOGGING',
  AnalyzeTable: 'ANALYZE_TABLE',
  CreateIndex: 'CREATE_INDEX',
  TerminateIdleInTransaction: 'TERMINATE_IDLE_IN_TRANSACTION',
  PartitionTable: 'PARTITION_TABLE',
  PgbouncerConfig: 'PGBOUNCER_CONFIG',
} as const;
export type OptimizationKind = (typeof OptimizationKind)[keyof typeof OptimizationKind];

export type Risk = 'LOW' | 'MEDIUM' | 'HIGH';

/** What applying does, as plain data the executor switches on. */
export type OptimizationAction =
  | { type: 'pool-resize'; min: number; max: number }
  | { type: 'alter-system'; setting: string; value: string; requiresRestart: boolean }
  | { type: 'sql'; statements: string[]; analyzes?: { schema: string; table: string } }
  | { type: 'create-index'; schema: string; table: string; index: string; columns: string[]; query: string }
  | { type: 'terminate'; pid: number; backendStart: string }
  | { type: 'advice' }
  | { type: 'artifact'; filename: string; content: string };

export interface Optimization {
  /** Stable: the same problem (kind + subject) keeps the same id across calls and restarts. */
  id: string;
  kind: OptimizationKind;
  title: string;
  /** Why, with the numbers that show it. */
  rationale: string;
  risk: Risk;
  /** The exact statements applying runs, in order (empty for advice and live pool changes). */
  statements: string[];
  /** The action in words, including what poolpilot does that is not SQL. */
  actionSummary: string;
  /** False for advice only: applying records the attempt and changes nothing. */
  applicable: boolean;
  /** The change only takes effect after a PostgreSQL restart, which poolpilot never does. */
  requiresRestart: boolean;
  /** The figures behind the rationale, for dashboards and scripts. */
  evidence: Record<string, unknown>;
  action: OptimizationAction;
}

export function optimizationId(kind: OptimizationKind, subject: string): string {
  const hash = createHash('sha256').update(`${kind}\u0000${subject}`).digest('hex').slice(0, 12);
  return `${kind.toLowerCase().replace(/_/g, '-')}-${hash}`;
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
