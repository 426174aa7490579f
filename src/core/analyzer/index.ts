export type { Analysis } from './analysis.js';
export { Analyzer, type AnalyzerOptions, type AnalyzerStats } from './analyzer.js';
export type { Features, StatementFacts } from './features.js';
export type { PlanSummary, SeqScan } from './planner.js';
export { BUILTIN_READ_ONLY_FUNCTIONS } from './read-only-functions.js';
export type { RouteClass, ScoreFactor, Severity } from './score.js';
