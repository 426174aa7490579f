import { AGGREGATE_FUNCTIONS } from './read-only-functions.js';

/**
 * What a parsed statement does, read from libpg-query's parse tree: the shape features the score
 * is made of, the tables it touches, and every reason it might write or lock (which decides the
 * primary whatever the score).
 */

// libpg-query nodes are `{ NodeType: { ...fields } }`; walked generically.
type Node = Record<string, unknown>;

export interface Features {
  /** Statement kinds in order, e.g. ['SELECT'] or ['INSERT']. */
  statements: string[];
  tables: string[];
  joins: number;
  subqueries: number;
  ctes: number;
  modifyingCtes: number;
  aggregates: number;
  groupBy: boolean;
  having: boolean;
  orderBy: boolean;
  distinct: boolean;
  windowFunctions: number;
  setOperations: number;
  limit: boolean;
  where: boolean;
  leadingWildcardLike: number;
  selectStar: boolean;
  /** Functions called, lower-case, schema-qualified when written so. */
  functions: string[];
  /** The highest $n used: how many parameters the statement needs. */
  params: number;
}

export interface StatementFacts {
  features: Features;
  /** Why the statement can write or lock; empty for a plain read. */
  writeReasons: string[];
  /** BEGIN/COMMIT/ROLLBACK/SAVEPOINT...: meaningless on a pooled connection for one call. */
  transactionControl: boolean;
  /** Leaves state on the connection (SET, LISTEN, PREPARE, temp tables, session locks...). */
  sessionState: boolean;
  /** Operator names used (`=`, `||`, `@>`...): an operator may be a user function in disguise. */
  operators: string[];
}

const AGGREGATES = new Set(AGGREGATE_FUNCTIONS);

const KIND_NAMES: Record<string, string> = {
  SelectStmt: 'SELECT',
  InsertStmt: 'INSERT',
  UpdateStmt: 'UPDATE',
  DeleteStmt: 'DELETE',
  MergeStmt: 'MERGE',
  CopyStmt: 'COPY',
  CallStmt: 'CALL',
  DoStmt: 'DO',
  ListenStmt: 'LISTEN',
  UnlistenStmt: 'UNLISTEN',
  NotifyStmt: 'NOTIFY',
  VariableSetStmt: 'SET',
  VariableShowStmt: 'SHOW',
  ExplainStmt: 'EXPLAIN',
  TransactionStmt: 'TRANSACTION',
  LockStmt: 'LOCK',
  TruncateStmt: 'TRUNCATE',
  VacuumStmt: 'VACUUM',
  CreateTableAsStmt: 'CREATE TABLE AS',
};

const SESSION_STATEMENTS = new Set([
  'VariableSetStmt',
  'ListenStmt',
  'UnlistenStmt',
  'PrepareStmt',
  'DeallocateStmt',
  'DeclareCursorStmt',
  'LoadStmt',
  'DiscardStmt',
]);

const SESSION_FUNCTIONS = new Set([
  'set_config',
  'pg_advisory_lock',
  'pg_advisory_lock_shared',
  'pg_try_advisory_lock',
  'pg_try_advisory_lock_shared',
]);

const LOCK_STRENGTH: Record<string, string> = {
  LCS_FORUPDATE: 'FOR UPDATE',
  LCS_FORNOKEYUPDATE: 'FOR NO KEY UPDATE',
  LCS_FORSHARE: 'FOR SHARE',
  LCS_FORKEYSHARE: 'FOR KEY SHARE',
};

export function kindName(nodeType: string): string {
  return (
    KIND_NAMES[nodeType] ??
    nodeType
      .replace(/Stmt$/, '')
      .replace(/([a-z])([A-Z])/g, '$1 $2')
      .toUpperCase()
  );
}

/** Reads the facts of the statements of one parse result (`stmts[*].stmt`). */
export function extractFacts(stmts: Node[], readOnly: ReadonlySet<string>): StatementFacts {
  const f: Features = {
    statements: [],
    tables: [],
    joins: 0,
    subqueries: 0,
    ctes: 0,
    modifyingCtes: 0,
    aggregates: 0,
    groupBy: false,
    having: false,
    orderBy: false,
    distinct: false,
    windowFunctions: 0,
    setOperations: 0,
    limit: false,
    where: false,
    leadingWildcardLike: 0,
    selectStar: false,
    functions: [],
    params: 0,
  };
  const reasons = new Set<string>();
  const tables = new Set<string>();
  const cteNames = new Set<string>();
  const functions = new Set<string>();
  const operators = new Set<string>();
  let transactionControl = false;
  let sessionState = false;

  // Most nodes come wrapped as { Type: body }; a few fields hold a bare body (larg/rarg are
  // SelectStmts, `relation` is a RangeVar), recognised by their shape.
  const visit = (value: unknown, key: string): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item, key);
      return;
    }
    if (!value || typeof value !== 'object') return;
    const node = value as Node;
    const keys = Object.keys(node);
    if (keys.length === 1 && /^[A-Z]/.test(keys[0]!)) {
      const body = node[keys[0]!];
      if (body && typeof body === 'object') handle(keys[0]!, body as Node, key);
      return;
    }
    if (key === 'larg' || key === 'rarg') handle('SelectStmt', node, key);
    else if ('relname' in node) handle('RangeVar', node, key);
    else for (const [childKey, child] of Object.entries(node)) visit(child, childKey);
  };

  const handle = (type: string, n: Node, key: string): void => {
    switch (type) {
      case 'SelectStmt':
        onSelect(n, key);
        break;
      case 'RangeVar': {
        const name = n.schemaname ? `${n.schemaname}.${n.relname}` : String(n.relname);
        tables.add(name);
        break;
      }
      case 'JoinExpr':
        f.joins += 1;
        break;
      case 'SubLink':
      case 'RangeSubselect':
        f.subqueries += 1;
        break;
      case 'CommonTableExpr': {
        f.ctes += 1;
        cteNames.add(String(n.ctename));
        const inner = Object.keys((n.ctequery as Node) ?? {})[0];
        if (inner && inner !== 'SelectStmt') {
          f.modifyingCtes += 1;
          reasons.add(`a data-modifying CTE (${kindName(inner)})`);
        }
        break;
      }
      case 'FuncCall':
        onFunction(n);
        break;
      case 'A_Expr':
        for (const part of (n.name as Node[] | undefined) ?? []) {
          const name = (part.String as Node | undefined)?.sval;
          if (typeof name === 'string' && !/^[a-z_]/i.test(name)) operators.add(name);
        }
        if ((n.kind === 'AEXPR_LIKE' || n.kind === 'AEXPR_ILIKE') && leadingWildcard(n.rexpr)) {
          f.leadingWildcardLike += 1;
        }
        break;
      case 'ParamRef':
        f.params = Math.max(f.params, Number(n.number ?? 0));
        break;
      case 'LockingClause':
        reasons.add(`SELECT ... ${LOCK_STRENGTH[String(n.strength)] ?? 'FOR UPDATE'} locks rows`);
        break;
    }
    for (const [childKey, child] of Object.entries(n)) visit(child, childKey);
  };

  const onSelect = (n: Node, key: string) => {
    if (n.op && n.op !== 'SETOP_NONE') f.setOperations += 1;
    if (n.intoClause) reasons.add('SELECT INTO creates a table');
    // Features of the outermost query block(s) only: a subquery's LIMIT does not bound the result.
    const outer = key === 'stmt' || key === 'larg' || key === 'rarg';
    if (Array.isArray(n.groupClause) && n.groupClause.length) f.groupBy = true;
    if (n.havingClause) f.having = true;
    if (Array.isArray(n.distinctClause)) f.distinct = true;
    if (Array.isArray(n.fromClause) && n.fromClause.length > 1) f.joins += n.fromClause.length - 1;
    if (outer) {
      if (Array.isArray(n.sortClause) && n.sortClause.length) f.orderBy = true;
      if (n.limitCount) f.limit = true;
      if (n.whereClause) f.where = true;
      if (Array.isArray(n.targetList) && n.targetList.some(isStar)) f.selectStar = true;
    }
  };

  const onFunction = (n: Node) => {
    const parts = ((n.funcname as Node[]) ?? []).map((p) =>
      String((p.String as Node | undefined)?.sval ?? ''),
    );
    const name = parts.join('.').toLowerCase();
    const bare = parts[parts.length - 1]?.toLowerCase() ?? '';
    functions.add(name);
    if (n.over) f.windowFunctions += 1;
    else if (AGGREGATES.has(bare) || n.agg_star || n.agg_distinct || n.agg_within_group) f.aggregates += 1;
    const known =
      readOnly.has(name) || ((parts.length === 1 || parts[0] === 'pg_catalog') && readOnly.has(bare));
    if (!known) {
      if (bare === 'nextval' || bare === 'setval') reasons.add(`${bare}() changes a sequence`);
      else if (bare.startsWith('pg_advisory') || bare.startsWith('pg_try_advisory'))
        reasons.add(`${bare}() takes an advisory lock`);
      else if (bare === 'set_config') reasons.add('set_config() changes a setting');
      else reasons.add(`${name}() is not a known read-only function`);
    }
    if (SESSION_FUNCTIONS.has(bare)) sessionState = true;
  };

  for (const raw of stmts) {
    const type = Object.keys(raw)[0] ?? 'Unknown';
    const body = (raw[type] ?? {}) as Node;
    f.statements.push(kindName(type));
    if (type === 'TransactionStmt') transactionControl = true;
    if (SESSION_STATEMENTS.has(type)) {
      // SET LOCAL lasts only for the statement's own transaction.
      if (!(type === 'VariableSetStmt' && body.is_local)) sessionState = true;
    }
    if (type === 'CreateStmt' && (body.relation as Node | undefined)?.relpersistence === 't')
      sessionState = true;
    if (!isReadStatement(type, body)) reasons.add(`${kindName(type)} ${writeVerb(type)}`);
    visit(raw, 'stmt');
  }
  // A CTE's name used as a table is not a relation (the CTE list is seen after the FROM that uses it).
  f.tables = [...tables].filter((t) => t.includes('.') || !cteNames.has(t));
  f.functions = [...functions];
  return {
    features: f,
    writeReasons: [...reasons],
    transactionControl,
    sessionState,
    operators: [...operators],
  };
}

/** SELECT/VALUES, SHOW, and EXPLAIN without ANALYZE read; everything else may write or lock. */
function isReadStatement(type: string, body: Node): boolean {
  if (type === 'SelectStmt' || type === 'VariableShowStmt') return true;
  if (type === 'ExplainStmt') {
    const analyze = ((body.options as Node[]) ?? []).some(
      (o) => String((o.DefElem as Node | undefined)?.defname).toLowerCase() === 'analyze',
    );
    const inner = Object.keys((body.query as Node) ?? {})[0];
    return !analyze && inner === 'SelectStmt';
  }
  return false;
}

function writeVerb(type: string): string {
  if (type === 'LockStmt') return 'locks a table';
  if (type === 'TransactionStmt') return 'controls a transaction';
  if (/^(Create|Alter|Drop|Rename|Comment|Grant|Revoke|Truncate|Reindex|Cluster|Vacuum|Refresh)/.test(type))
    return 'changes the schema or data';
  return 'writes';
}

function isStar(target: unknown): boolean {
  const val = ((target as Node).ResTarget as Node | undefined)?.val as Node | undefined;
  const fields = (val?.ColumnRef as Node | undefined)?.fields as Node[] | undefined;
  return Boolean(fields?.some((field) => 'A_Star' in field));
}

function leadingWildcard(rexpr: unknown): boolean {
  const constant = (rexpr as Node | undefined)?.A_Const as Node | undefined;
  const text = (constant?.sval as Node | undefined)?.sval;
  return typeof text === 'string' && (text.startsWith('%') || text.startsWith('_'));
}
