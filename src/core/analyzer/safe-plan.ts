import { ErrorCode, isPoolpilotError, PoolpilotError } from '../errors.js';
import type { Lease } from '../pool/index.js';
import { extractFacts, type StatementFacts } from './features.js';
import { isNotJudged, isParseFailure, loadParser, parseStatement } from './parser.js';
import { type PlanNode, type PlanSummary, summarizePlan } from './plan-summary.js';
import { BUILTIN_READ_ONLY_FUNCTIONS } from './read-only-functions.js';
import { BEGIN_PLANNING, END_PLANNING, EXPLAIN, PLANNING_HAZARDS, RESET_SESSION } from './sql.js';

/**
 * Planning without side effects. The planner runs code while it plans: it folds IMMUTABLE
 * functions and operators called on constants (a user's function can lock, signal or write
 * whatever its label says), expands defaults, rules, policies and views. So a statement is
 * planned only when everything it would run is PostgreSQL's own (or an extension's), checked
 * first from the parse and then from the catalog; and even then inside a READ ONLY transaction
 * with short statement and lock timeouts, rolled back, on a connection reset afterwards
 * (DISCARD ALL: advisory locks, settings, temporary objects). The statement goes through the
 * extended protocol, which refuses a text holding several statements.
 */

export const PLANNABLE_KINDS: ReadonlySet<string> = new Set([
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'MERGE',
]);

const BUILTIN = new Set(BUILTIN_READ_ONLY_FUNCTIONS);

/** Why the parse alone rules planning out, or null. Only PostgreSQL's own functions are planned. */
export function parsePlanningHazard(facts: StatementFacts, statementCount: number): string | null {
  if (statementCount !== 1) return 'several statements are never planned';
  const kind = facts.features.statements[0] ?? '';
  if (!PLANNABLE_KINDS.has(kind)) return `${kind} is not planned`;
  const foreign = facts.features.functions.filter((name) => {
    const parts = name.split('.');
    const bare = parts[parts.length - 1]!;
    return !(BUILTIN.has(bare) && (parts.length === 1 || parts[0] === 'pg_catalog'));
  });
  if (foreign.length > 0) {
    return `${foreign.map((f) => `${f}()`).join(', ')} ${foreign.length === 1 ? 'is' : 'are'} not a built-in function the planner may run`;
  }
  return null;
}

export interface SafePlan {
  plan: PlanSummary | null;
  /** The planner's own error (unknown table, bad GROUP BY...). */
  planError: string | null;
  /** Why the catalog ruled planning out (a user function in a default, a view, a cast...). */
  hazard: string | null;
}

export interface SafePlanOptions {
  generic: boolean;
  timeoutMs: number;
  /** Relation names as the statement writes them. */
  tables: string[];
  /** Function names the statement calls (bare names are enough). */
  functions: string[];
  operators: string[];
}

/**
 * Plans `sql` on `lease` as described above. Connection failures propagate (with the lease
 * marked broken by the pool); a failure to roll back or reset propagates too, so the caller
 * releases the connection as broken instead of handing it on.
 */
export async function planSafely(lease: Lease, sql: string, options: SafePlanOptions): Promise<SafePlan> {
  let plan: PlanSummary | null = null;
  let planError: string | null = null;
  let hazard: string | null = null;
  await lease.query(BEGIN_PLANNING(options.timeoutMs));
  try {
    const bare = options.functions.map((f) => f.split('.').pop()!);
    const { rows } = await lease.query(PLANNING_HAZARDS, [options.tables, bare, options.operators]);
    hazard = describeHazard(rows[0] ?? {});
    if (hazard === null) {
      const text = EXPLAIN(sql, options.generic);
      try {
        const { rows: planRows } = await lease.query(text, ...protocolFor(text, options.generic));
        const root = ((planRows[0]?.['QUERY PLAN'] as { Plan: PlanNode }[] | undefined) ?? [])[0]?.Plan;
        plan = root ? summarizePlan(root) : null;
      } catch (error) {
        if (isPoolpilotError(error) && error.code === ErrorCode.DbUnavailable) throw error;
        planError = (error as Error).message;
      }
    }
  } finally {
    await lease.query(END_PLANNING);
    await lease.query(RESET_SESSION);
  }
  return { plan, planError, hazard };
}

/**
 * Values, even none, mean the extended protocol, which refuses a text holding several statements.
 * A generic plan cannot take it: values bound to $n would be folded into the plan, and without
 * values the server refuses to bind. That text goes as a simple query, and only once its own
 * parse (with the lexical settings the planning transaction fixed) shows exactly one EXPLAIN.
 */
function protocolFor(text: string, generic: boolean): [] | [unknown[]] {
  if (!generic) return [[]];
  const parsed = parseStatement(text);
  if (
    isParseFailure(parsed) ||
    isNotJudged(parsed) ||
    parsed.stmts.length !== 1 ||
    !('ExplainStmt' in parsed.stmts[0]!)
  )
    throw new PoolpilotError(ErrorCode.BadSql, 'the text to plan is not exactly one statement: not sent');
  return [];
}

function describeHazard(row: Record<string, unknown>): string | null {
  const list = (v: unknown) => (Array.isArray(v) ? (v as string[]) : []);
  const calling = list(row.relations_calling);
  if (calling.length > 0)
    return `${calling.join(', ')} ${calling.length === 1 ? 'has' : 'have'} defaults, constraints, rules, views, policies or indexes that call user functions`;
  const foreign = list(row.foreign_tables);
  if (foreign.length > 0)
    return `${foreign.join(', ')} ${foreign.length === 1 ? 'is a foreign table' : 'are foreign tables'}`;
  const shadowed = list(row.shadowed_functions);
  if (shadowed.length > 0)
    return `user functions share the name of ${shadowed.map((f) => `${f}()`).join(', ')}, and could be the ones called`;
  const operators = list(row.user_operators);
  if (operators.length > 0) return `operator(s) ${operators.join(' ')} may be implemented by user functions`;
  if (row.user_casts === true) return 'the database has casts implemented by user functions';
  return null;
}

/**
 * For callers holding only a text (the optimizer's slow statements): parses it and says whether
 * the parse allows planning. Returns what planSafely needs, or why not.
 */
export async function planningFacts(
  sql: string,
): Promise<{ options: Pick<SafePlanOptions, 'tables' | 'functions' | 'operators'> } | { hazard: string }> {
  await loadParser();
  const parsed = parseStatement(sql);
  if (isNotJudged(parsed)) return { hazard: parsed.notJudged };
  if (isParseFailure(parsed)) return { hazard: `it does not parse: ${parsed.message}` };
  const facts = extractFacts(parsed.stmts, BUILTIN);
  const hazard = parsePlanningHazard(facts, parsed.stmts.length);
  if (hazard) return { hazard };
  return {
    options: {
      tables: facts.features.tables,
      functions: facts.features.functions,
      operators: facts.operators,
    },
  };
}
