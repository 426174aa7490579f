import type { Features } from './features.js';
import type { PlanSummary } from './planner.js';
import type { RouteClass, ScoreFactor, Severity } from './score.js';

/** Everything the analyzer concluded about one statement: plain data, shown as it is. */
export interface Analysis {
  /** libpg_query fingerprint: one per query shape (constants, comments and spacing ignored). */
  fingerprint: string;
  /** The statement with constants replaced by $n. */
  normalized: string;
  statementCount: number;
  /** 0..100, see score.ts for the formula. */
  complexity: number;
  severity: Severity;
  route: RouteClass;
  recommendations: string[];
  /** What the complexity is made of: each term with its points. */
  factors: ScoreFactor[];
  features: Features;
  tables: string[];
  /** True when the statement can write or lock: it runs on the primary whatever its score. */
  writes: boolean;
  writeReasons: string[];
  transactionControl: boolean;
  sessionState: boolean;
  /** A `/* poolpilot:primary *\/` comment asks for the primary. */
  forcedPrimary: boolean;
  /** True when the planner was consulted and answered. */
  planned: boolean;
  plan: PlanSummary | null;
  planError: string | null;
  /** Estimated rows per named table, when a database was reachable. */
  tableRows: Record<string, number> | null;
  /** What the score rests on. */
  basis: 'planner' | 'table sizes' | 'parse only';
  /** Why the analysis is partial (no database, planner refused...), or null. */
  note: string | null;
  parseError: { message: string; position: number | null } | null;
  analyzedAt: Date;
  /** True when this answer came from the cache (no parse, no EXPLAIN). */
  cached: boolean;
}
