import type { Features } from './features.js';
import type { PlanSummary } from './plan-summary.js';
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
  /**
   * False when the analyzer could not judge the statement (it nests too deep to parse safely, or
   * the parser failed on it): whatever needs the parse refuses it, and it is never routed off
   * the primary. A syntax error is judged (PostgreSQL's own grammar said no).
   */
  judged: boolean;
  /**
   * True when the statement can write or lock: it runs on the primary whatever its score. Null
   * when unknown (it did not parse, or was not judged): treated as a write.
   */
  writes: boolean | null;
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
