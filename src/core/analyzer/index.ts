export type { Analysis } from './analysis.js';
export {
  Analyzer,
  type AnalyzerOptions,
  type AnalyzerStats,
  type PlannerVerdict,
  type SharedVerdicts,
} from './analyzer.js';
export type { Features, StatementFacts } from './features.js';
export { isNotJudged, isParseFailure, loadParser, type ParserState, parseStatement } from './parser.js';
export { MAX_PARSE_DEPTH } from './parser-bounds.js';
export { type PlanNode, type PlanSummary, type SeqScan, summarizePlan } from './plan-summary.js';
export { BUILTIN_READ_ONLY_FUNCTIONS } from './read-only-functions.js';
export { planningFacts, planSafely, type SafePlan } from './safe-plan.js';
export type { RouteClass, ScoreFactor, Severity } from './score.js';
