/**
 * How deep a parse tree a text can produce, estimated without parsing. libpg_query walks its tree
 * recursively on the WebAssembly stack: a few thousand levels overflow it (7,383 left-nested `+`
 * at the top of the JavaScript stack, 3,000 nested subqueries), and an overflow leaves the module
 * broken. This scan is a loop over characters with an explicit stack, so it cannot overflow.
 *
 * The estimate is an upper bound of the tree's depth: every open `(`, `[` and CASE is a level,
 * and within a level every operator (and operator-like keyword) since the last `,`, AND, OR,
 * WHEN, THEN or ELSE adds one, because PostgreSQL nests a chain like `a + b + c` one level per
 * operator while it flattens lists and AND/OR chains. Strings, quoted identifiers, dollar quotes
 * and comments are skipped as libpg_query's lexer reads them (standard_conforming_strings on).
 */

/** The deepest tree a statement may produce; a third of the shallowest overflow measured. */
export const MAX_PARSE_DEPTH = 1_000;

const CHAIN_WORDS = new Set([
  'NOT',
  'IS',
  'ISNULL',
  'NOTNULL',
  'LIKE',
  'ILIKE',
  'SIMILAR',
  'IN',
  'COLLATE',
  'AT',
  'OVERLAPS',
  'UNION',
  'INTERSECT',
  'EXCEPT',
  'SELECT',
  'OPERATOR',
]);
const RESET_WORDS = new Set(['AND', 'OR', 'WHEN', 'THEN', 'ELSE']);
const OPERATOR = new Uint8Array(128);
for (const c of '+-*/<>=~!@#%^&|`?:') OPERATOR[c.charCodeAt(0)] = 1;
const isOperator = (code: number) => code < 128 && OPERATOR[code] === 1;

interface Level {
  chain: number;
  /** BETWEEN ... AND: that AND belongs to the BETWEEN, it does not start a new operand. */
  betweens: number;
  closer: ')' | ']' | 'END' | null;
}

/** The estimated tree depth of `sql`, at most `limit + 1` (the scan stops once over the limit). */
export function estimatedDepth(sql: string, limit = MAX_PARSE_DEPTH): number {
  const levels: Level[] = [{ chain: 0, betweens: 0, closer: null }];
  let chains = 0;
  let deepest = 0;
  const n = sql.length;
  let i = 0;
  const top = () => levels[levels.length - 1]!;
  const measure = () => {
    const depth = levels.length - 1 + chains;
    if (depth > deepest) deepest = depth;
  };
  const push = (closer: Level['closer']) => {
    levels.push({ chain: 0, betweens: 0, closer });
    measure();
  };
  const pop = (closer: Level['closer']) => {
    if (levels.length > 1 && top().closer === closer) chains -= levels.pop()!.chain;
  };
  const grow = () => {
    top().chain += 1;
    chains += 1;
    measure();
  };
  const reset = () => {
    chains -= top().chain;
    top().chain = 0;
  };
  while (i < n && deepest <= limit) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
    } else if (c === '/' && next === '*') {
      i = skipBlockComment(sql, i);
    } else if (c === "'") {
      i = skipQuoted(sql, i + 1, "'", isEscapeString(sql, i));
    } else if (c === '"') {
      i = skipQuoted(sql, i + 1, '"', false);
    } else if (c === '$' && !isIdentChar(sql.charCodeAt(i - 1))) {
      i = skipDollarQuoted(sql, i);
    } else if (c === '(' || c === '[') {
      push(c === '(' ? ')' : ']');
      i += 1;
    } else if (c === ')' || c === ']') {
      pop(c);
      i += 1;
    } else if (c === ',' || c === ';') {
      reset();
      i += 1;
    } else if (isOperator(sql.charCodeAt(i))) {
      while (i < n && isOperator(sql.charCodeAt(i))) i += 1;
      grow();
    } else if (isIdentStart(sql.charCodeAt(i))) {
      const start = i;
      while (i < n && isIdentChar(sql.charCodeAt(i))) i += 1;
      // A word glued to a quote is a string prefix (E'', U&'', B'', X''): the quote is read next.
      const word = i - start <= 9 ? sql.slice(start, i).toUpperCase() : '';
      if (word === 'CASE') push('END');
      else if (word === 'END') pop('END');
      else if (word === 'BETWEEN') {
        top().betweens += 1;
        grow();
      } else if (word === 'AND' && top().betweens > 0) top().betweens -= 1;
      else if (RESET_WORDS.has(word)) reset();
      else if (CHAIN_WORDS.has(word)) grow();
    } else {
      i += 1;
    }
  }
  return deepest;
}

function isIdentStart(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95 || code >= 0x80;
}

/** NaN (before the start or past the end of the text) is no identifier character. */
function isIdentChar(code: number): boolean {
  return isIdentStart(code) || (code >= 48 && code <= 57) || code === 36;
}

/** E'...' (and e'...') take backslash escapes; the E must start its token. */
function isEscapeString(sql: string, quote: number): boolean {
  const prefix = sql[quote - 1];
  return (prefix === 'E' || prefix === 'e') && !isIdentChar(sql.charCodeAt(quote - 2));
}

/** Index after the closing quote; a doubled quote is part of the text. */
function skipQuoted(sql: string, from: number, quote: string, backslashes: boolean): number {
  let i = from;
  while (i < sql.length) {
    const c = sql[i]!;
    if (backslashes && c === '\\') i += 2;
    else if (c === quote) {
      if (sql[i + 1] === quote) i += 2;
      else return i + 1;
    } else i += 1;
  }
  return sql.length;
}

/** `/* ... *\/`, which PostgreSQL lets nest. */
function skipBlockComment(sql: string, from: number): number {
  let depth = 0;
  let i = from;
  while (i < sql.length) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      depth += 1;
      i += 2;
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      depth -= 1;
      i += 2;
      if (depth === 0) return i;
    } else i += 1;
  }
  return sql.length;
}

/** `$tag$ ... $tag$`; a `$` that opens no tag (a parameter `$1`) is one character. */
function skipDollarQuoted(sql: string, from: number): number {
  const match = /^\$([A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$/.exec(sql.slice(from, from + 66));
  if (!match) return from + 1;
  const end = sql.indexOf(match[0], from + match[0].length);
  return end < 0 ? sql.length : end + match[0].length;
}
