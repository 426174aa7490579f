import { isNotJudged, isParseFailure, loadParser, parseStatement } from '../analyzer/index.js';

/**
 * The columns a statement filters and joins on, read from PostgreSQL's own parse tree
 * (libpg_query), so quoting, aliases and nesting are understood as the server understands them.
 */

export type PredicateKind = 'equality' | 'range' | 'join';

export interface ColumnUse {
  /** The table as written (unqualified name); null when a bare column's table is ambiguous. */
  table: string | null;
  schema: string | null;
  column: string;
  kind: PredicateKind;
  /** Tables in scope, for resolving a bare column against the catalog. */
  scope: { schema: string | null; table: string }[];
}

type Node = Record<string, unknown>;

const EQUALITY_OPS = new Set(['=']);
const RANGE_OPS = new Set(['<', '>', '<=', '>=']);

export async function filterColumns(sql: string): Promise<ColumnUse[]> {
  // The analyzer's parser: bounded input, and a fresh instance after any internal failure.
  await loadParser();
  const parsed = parseStatement(sql);
  if (isParseFailure(parsed) || isNotJudged(parsed)) return [];
  // One statement only: the text is later planned with EXPLAIN, which must never see a second one.
  if (parsed.stmts.length !== 1) return [];
  const out: ColumnUse[] = [];
  walkStatement(parsed.stmts[0]!, out);
  return out;
}

interface Scope {
  aliases: Map<string, { schema: string | null; table: string }>;
  tables: { schema: string | null; table: string }[];
}

function walkStatement(stmt: Node, out: ColumnUse[]): void {
  const select = stmt.SelectStmt as Node | undefined;
  if (select) {
    if (select.larg) walkStatement({ SelectStmt: select.larg }, out);
    if (select.rarg) walkStatement({ SelectStmt: select.rarg }, out);
    const scope: Scope = { aliases: new Map(), tables: [] };
    for (const item of (select.fromClause as Node[] | undefined) ?? []) collectFrom(item, scope, out);
    if (select.whereClause) walkPredicate(select.whereClause as Node, scope, out);
    withClauses(select, out);
    return;
  }
  for (const key of ['UpdateStmt', 'DeleteStmt'] as const) {
    const s = stmt[key] as Node | undefined;
    if (!s) continue;
    const scope: Scope = { aliases: new Map(), tables: [] };
    collectFrom({ RangeVar: s.relation }, scope, out);
    for (const item of ((s.fromClause ?? s.usingClause) as Node[] | undefined) ?? [])
      collectFrom(item, scope, out);
    if (s.whereClause) walkPredicate(s.whereClause as Node, scope, out);
    withClauses(s, out);
  }
}

function withClauses(s: Node, out: ColumnUse[]): void {
  const ctes = ((s.withClause as Node | undefined)?.ctes as Node[] | undefined) ?? [];
  for (const cte of ctes) {
    const query = (cte.CommonTableExpr as Node | undefined)?.ctequery as Node | undefined;
    if (query) walkStatement(query, out);
  }
}

function collectFrom(item: Node, scope: Scope, out: ColumnUse[]): void {
  const range = item.RangeVar as Node | undefined;
  if (range) {
    const table = {
      schema: (range.schemaname as string | undefined) ?? null,
      table: range.relname as string,
    };
    scope.tables.push(table);
    scope.aliases.set(table.table, table);
    const alias = (range.alias as Node | undefined)?.aliasname as string | undefined;
    if (alias) scope.aliases.set(alias, table);
    return;
  }
  const join = item.JoinExpr as Node | undefined;
  if (join) {
    collectFrom(join.larg as Node, scope, out);
    collectFrom(join.rarg as Node, scope, out);
    if (join.quals) walkPredicate(join.quals as Node, scope, out);
    return;
  }
  const sub = item.RangeSubselect as Node | undefined;
  if (sub?.subquery) walkStatement(sub.subquery as Node, out);
}

function walkPredicate(node: Node, scope: Scope, out: ColumnUse[]): void {
  const bool = node.BoolExpr as Node | undefined;
  if (bool) {
    // Only AND-ed conditions narrow a scan the way one index can serve.
    if (bool.boolop === 'AND_EXPR') for (const arg of bool.args as Node[]) walkPredicate(arg, scope, out);
    else for (const arg of bool.args as Node[]) walkSubLinks(arg, out);
    return;
  }
  const expr = node.A_Expr as Node | undefined;
  if (expr) {
    const op = ((expr.name as Node[] | undefined)?.[0]?.String as Node | undefined)?.sval as
      | string
      | undefined;
    const left = columnOf(expr.lexpr as Node | undefined, scope);
    const right = columnOf(expr.rexpr as Node | undefined, scope);
    if (expr.kind === 'AEXPR_OP' && op && left && right && EQUALITY_OPS.has(op)) {
      out.push({ ...left, kind: 'join' }, { ...right, kind: 'join' });
    } else if (expr.kind === 'AEXPR_OP' && op && (left || right)) {
      const col = (left ?? right)!;
      if (EQUALITY_OPS.has(op)) out.push({ ...col, kind: 'equality' });
      else if (RANGE_OPS.has(op)) out.push({ ...col, kind: 'range' });
    } else if (expr.kind === 'AEXPR_IN' && left) {
      out.push({ ...left, kind: 'equality' });
    } else if ((expr.kind === 'AEXPR_BETWEEN' || expr.kind === 'AEXPR_BETWEEN_SYM') && left) {
      out.push({ ...left, kind: 'range' });
    }
    walkSubLinks(node, out);
    return;
  }
  const nullTest = node.NullTest as Node | undefined;
  if (nullTest) {
    const col = columnOf(nullTest.arg as Node | undefined, scope);
    if (col && nullTest.nulltesttype === 'IS_NULL') out.push({ ...col, kind: 'equality' });
    return;
  }
  walkSubLinks(node, out);
}

/** Subqueries in a condition have their own scope. */
function walkSubLinks(node: unknown, out: ColumnUse[]): void {
  if (!node || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const n of node) walkSubLinks(n, out);
    return;
  }
  const sub = (node as Node).SubLink as Node | undefined;
  if (sub?.subselect) {
    walkStatement(sub.subselect as Node, out);
    return;
  }
  for (const value of Object.values(node)) walkSubLinks(value, out);
}

function columnOf(node: Node | undefined, scope: Scope): Omit<ColumnUse, 'kind'> | null {
  const ref = node?.ColumnRef as Node | undefined;
  if (!ref) return null;
  const names = (ref.fields as Node[]).map((f) => (f.String as Node | undefined)?.sval as string | undefined);
  if (names.some((n) => n === undefined)) return null; // t.* and the like
  const column = names.at(-1)!;
  const scopeTables = [...scope.tables];
  if (names.length >= 2) {
    const qualifier = names.at(-2)!;
    const table = scope.aliases.get(qualifier);
    if (!table) return null; // an outer query's alias: not this scope's table
    return { table: table.table, schema: table.schema, column, scope: scopeTables };
  }
  const only = scope.tables.length === 1 ? scope.tables[0]! : null;
  return { table: only?.table ?? null, schema: only?.schema ?? null, column, scope: scopeTables };
}
