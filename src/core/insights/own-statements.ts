import { loadModule, normalizeSync, parseSync } from 'libpg-query';
import * as analyzerSql from '../analyzer/sql.js';
import { OWN_MARK } from '../application-name.js';
import * as auditSql from '../audit/sql.js';
import * as optimizerSql from '../optimizer/sql.js';
import * as poolSql from '../pool/sql.js';
import * as executorSql from '../session/sql.js';
import * as telemetrySql from '../telemetry/sql.js';
import * as insightsSql from './sql.js';

/**
 * poolpilot's own statements as pg_stat_statements keeps them, to leave them out of slow-query
 * reports when they cannot be told apart by role (the control plane runs as the data role, and
 * the analyzer always plans as the data role).
 *
 * A leading comment proves nothing: a caller can write it too, and pg_stat_statements keeps the
 * first text it saw for a statement shape, so one caller's `/* poolpilot *\/ SELECT ...` used to
 * hide every later statement of that shape. What is matched here is the exact text: each fixed
 * statement split as the server splits a multi-statement string, with its constants replaced by
 * `$n` as pg_stat_statements does (and as sent, for forms it keeps verbatim).
 */

/** The analyzer's EXPLAIN wraps a caller's statement: only its exact prefix is known. */
export const OWN_EXPLAIN_PREFIX = `${OWN_MARK} EXPLAIN (FORMAT JSON, VERBOSE`;

let fixed: string[] | null = null;

/** Every fixed own text, plus `extra` (texts built at run time, such as the slow-query statement). */
export async function ownStatementTexts(extra: readonly string[] = []): Promise<string[]> {
  await loadModule();
  fixed ??= [
    ...[analyzerSql, auditSql, executorSql, optimizerSql, poolSql, telemetrySql, insightsSql]
      .flatMap((module) => Object.values(module))
      .filter((value): value is string => typeof value === 'string'),
    analyzerSql.BEGIN_PLANNING(1_000),
  ].flatMap(storedForms);
  return [...new Set([...fixed, ...extra.flatMap(storedForms)])];
}

/**
 * The statements of `sql` as pg_stat_statements may store them: verbatim and normalized, cut where
 * the server cuts a multi-statement string. PostgreSQL 16 starts a statement right after the
 * previous one's semicolon (so a leading comment stays with it); newer parsers start at its first
 * token. Both cuts are kept.
 */
function storedForms(sql: string): string[] {
  const parts = new Set<string>([sql.trim()]);
  try {
    const { stmts } = parseSync(sql) as { stmts: { stmt_location?: number; stmt_len?: number }[] };
    let previousEnd = 0;
    for (const [i, s] of stmts.entries()) {
      const location = s.stmt_location ?? 0;
      const end = s.stmt_len ? location + s.stmt_len : sql.length;
      parts.add(sql.slice(location, end).trim());
      parts.add(sql.slice(i === 0 ? 0 : previousEnd + 1, end).trim());
      previousEnd = end;
    }
  } catch {
    // Not parseable here: matched verbatim only.
  }
  return [...parts]
    .flatMap((part) => {
      try {
        return [part, normalizeSync(part)];
      } catch {
        return [part];
      }
    })
    .map(withoutParameterNumbers);
}

/** `$1`, `$12` → `$`: compared so, a statement matches whoever numbered its constants. */
function withoutParameterNumbers(text: string): string {
  return text.replace(/\$[0-9]+/g, '$');
}
