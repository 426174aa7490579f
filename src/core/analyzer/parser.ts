import { fingerprintSync, hasSqlDetails, loadModule, normalizeSync, parseSync } from 'libpg-query';

/** PostgreSQL's own parser (libpg_query, as WebAssembly): parse tree, fingerprint, normalized text. */

export interface Parsed {
  stmts: Record<string, unknown>[];
}

export interface ParseFailure {
  message: string;
  /** 1-based character position, as PostgreSQL reports it; null when unknown. */
  position: number | null;
}

let loading: Promise<void> | null = null;

/** Loads the WebAssembly module once; every parse waits for it. */
export function loadParser(): Promise<void> {
  loading ??= loadModule();
  return loading;
}

export function parseStatement(sql: string): Parsed | ParseFailure {
  try {
    const tree = parseSync(sql) as { stmts?: { stmt: Record<string, unknown> }[] };
    return { stmts: (tree.stmts ?? []).map((s) => s.stmt) };
  } catch (error) {
    if (hasSqlDetails(error) && error.sqlDetails) {
      return { message: error.sqlDetails.message, position: error.sqlDetails.cursorPosition + 1 };
    }
    return { message: (error as Error).message, position: null };
  }
}

/** The shape's identity: equal for statements that differ only in constants, comments and spacing. */
export function fingerprintOf(sql: string): string {
  return fingerprintSync(sql);
}

/** The statement with its constants replaced by $n placeholders. */
export function normalizedOf(sql: string): string {
  return normalizeSync(sql);
}

export function isParseFailure(value: Parsed | ParseFailure): value is ParseFailure {
  return 'message' in value;
}
