/**
 * The statement with its literal constants blanked, found by one scan of the text instead of a
 * parse: `SELECT abalance FROM pgbench_accounts WHERE aid = 4711` and `... aid = 815` share a key,
 * so a statement that differs from a known one only in its constants is routed without the
 * parser (which costs tens of microseconds a call, a core at tens of thousands of statements a
 * second). Identifiers, keywords, operators, parameters and comments are kept to the letter.
 *
 * It answers null, and the caller parses, whenever the text holds anything whose reading could
 * depend on session settings or that it does not fully follow: a backslash (its meaning in a
 * string depends on standard_conforming_strings), a dollar-quoted string, an unterminated quote or
 * comment. A key is never shared by two statements that the parser would read differently, since
 * everything but plain literals is compared as written.
 */

/** Stands for a blanked literal; NUL cannot occur in a statement, so no text can forge it. */
const HOLE = '\u0000';
const MAX_KEYED_LENGTH = 16_384;

export function literalKey(sql: string): string | null {
  const n = sql.length;
  if (n > MAX_KEYED_LENGTH || sql.includes('\\') || sql.includes(HOLE)) return null;
  let out = '';
  let copied = 0;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === 0x27 /* ' */) {
      const end = endOfQuoted(sql, i, 0x27);
      if (end < 0) return null;
      out += sql.slice(copied, i) + HOLE;
      copied = i = end;
      continue;
    }
    if (c === 0x22 /* " */) {
      const end = endOfQuoted(sql, i, 0x22);
      if (end < 0) return null;
      i = end;
      continue;
    }
    if (c === 0x24 /* $ */) {
      const next = sql.charCodeAt(i + 1);
      if (isDigit(next)) {
        i += 2;
        while (i < n && isDigit(sql.charCodeAt(i))) i++;
        continue;
      }
      return null; // a dollar-quoted string
    }
    if (c === 0x2d /* - */ && sql.charCodeAt(i + 1) === 0x2d) {
      const eol = sql.indexOf('\n', i);
      i = eol === -1 ? n : eol + 1;
      continue;
    }
    if (c === 0x2f /* / */ && sql.charCodeAt(i + 1) === 0x2a /* * */) {
      const end = endOfComment(sql, i);
      if (end < 0) return null;
      i = end;
      continue;
    }
    if (isIdentifierStart(c)) {
      i++;
      while (i < n && isIdentifierPart(sql.charCodeAt(i))) i++;
      continue;
    }
    if (isDigit(c) || (c === 0x2e /* . */ && isDigit(sql.charCodeAt(i + 1)))) {
      // A number: digits, one fraction, an exponent, hex/octal/binary prefixes and underscores
      // (PostgreSQL 16) all fall within this run.
      let j = i + 1;
      while (j < n) {
        const d = sql.charCodeAt(j);
        if (isIdentifierPart(d) || d === 0x2e) j++;
        else if ((d === 0x2b || d === 0x2d) && (sql.charCodeAt(j - 1) | 0x20) === 0x65 /* e */) j++;
        else break;
      }
      out += sql.slice(copied, i) + HOLE;
      copied = i = j;
      continue;
    }
    i++;
  }
  return out + sql.slice(copied);
}

/** Index just past a quoted string or identifier ('' or "" inside doubles the quote), or -1. */
function endOfQuoted(sql: string, start: number, quote: number): number {
  let i = start + 1;
  for (;;) {
    const end = sql.indexOf(String.fromCharCode(quote), i);
    if (end < 0) return -1;
    if (sql.charCodeAt(end + 1) === quote) {
      i = end + 2;
      continue;
    }
    return end + 1;
  }
}

/** Index just past a block comment, which nests in PostgreSQL, or -1. */
function endOfComment(sql: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < sql.length) {
    if (sql.charCodeAt(i) === 0x2f && sql.charCodeAt(i + 1) === 0x2a) {
      depth++;
      i += 2;
    } else if (sql.charCodeAt(i) === 0x2a && sql.charCodeAt(i + 1) === 0x2f) {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  return -1;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isIdentifierStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c >= 0x80;
}

function isIdentifierPart(c: number): boolean {
  return isIdentifierStart(c) || isDigit(c) || c === 0x24;
}
