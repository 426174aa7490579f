import { loadModule, normalizeSync, parseSync } from 'libpg-query';
import * as analyzerSql from '../analyzer/sql.js';
import { OWN_MARK } from '../application-name.js';
import * as auditSql from '../audit/sql.js';
import * as executorSql from '../executor/sql.js';
import * as optimizerSql from '../optimizer/sql.js';
import * as poolSql from '../pool/sql.js';
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

/** The statements of `sql` as pg_stat_statements may store them: verbatim and normalized. */
function storedForms(sql: string): string[] {
  let parts: string[];
  try {
    const { stmts } = parseSync(sql) as { stmts: { stmt_location?: number; stmt_len?: number }[] };
    parts = stmts.map((s) => {
      const start = s.stmt_location ?? 0;
      return (s.stmt_len ? sql.slice(start, start + s.stmt_len) : sql.slice(start)).trim();
    });
  } catch {
    parts = [sql.trim()];
  }
  return parts.flatMap((part) => {
    try {
      return [part, normalizeSync(part)];
    } catch {
      return [part];
    }
  });
}
