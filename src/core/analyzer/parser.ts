import { createRequire } from 'node:module';
import { estimatedDepth, MAX_PARSE_DEPTH } from './parser-bounds.js';

/**
 * PostgreSQL's own parser (libpg_query, as WebAssembly): parse tree, fingerprint, normalized
 * text. poolpilot owns its module instance rather than using the package's shared one, because a
 * WebAssembly trap (stack overflow, out-of-bounds access, abort) leaves an instance's stack and
 * memory contexts broken for every later call: after one, the instance is thrown away and a fresh
 * one is made. Texts whose tree would be too deep are not handed to it at all (parser-bounds.ts).
 */

export interface Parsed {
  stmts: Record<string, unknown>[];
}

export interface ParseFailure {
  message: string;
  /** 1-based character position, as PostgreSQL reports it; null when unknown. */
  position: number | null;
}

/** The parser did not judge the text: too deep, or the parser itself failed on it. */
export interface NotJudged {
  notJudged: string;
}

export interface ParserState {
  status: 'ok' | 'degraded';
  /** Why it is degraded, or null. */
  reason: string | null;
  /** Module instances replaced after an internal failure since start. */
  resets: number;
  lastResetAt: Date | null;
  /** Texts refused before parsing because their tree would be too deep. */
  refused: number;
}

/** After a reset, the state reads degraded this long, so a health check notices an attack. */
const RECENT_RESET_MS = 60_000;

// The Emscripten factory: each call makes an independent instance (its own memory and stack).
type ModuleFactory = (options: Record<string, unknown>) => Promise<WasmParser>;
interface WasmParser {
  _malloc(size: number): number;
  _free(ptr: number): void;
  _wasm_parse_query_raw(ptr: number): number;
  _wasm_free_parse_result(ptr: number): void;
  _wasm_fingerprint(ptr: number): number;
  _wasm_normalize_query(ptr: number): number;
  _wasm_free_string(ptr: number): void;
  lengthBytesUTF8(s: string): number;
  stringToUTF8(s: string, ptr: number, max: number): void;
  UTF8ToString(ptr: number): string;
  getValue(ptr: number, type: 'i32'): number;
}

const factory = createRequire(import.meta.url)('libpg-query/wasm/libpg-query.js') as ModuleFactory;

let instance: WasmParser | null = null;
let loading: Promise<void> | null = null;
let loadError: string | null = null;
const state = { resets: 0, lastResetAt: null as Date | null, refused: 0, lastFailure: null as string | null };

function newInstance(): Promise<void> {
  instance = null;
  // The module prints memory-context dumps on fatal errors: nothing of that belongs on stdout.
  const quiet = () => undefined;
  loading = factory({ print: quiet, printErr: quiet }).then(
    (m) => {
      instance = m;
      loadError = null;
    },
    (error: unknown) => {
      loadError = (error as Error).message ?? String(error);
      loading = null; // the next caller tries again
    },
  );
  return loading;
}

/** Loads the WebAssembly module (or waits for its replacement); every parse waits for it. */
export function loadParser(): Promise<void> {
  return loading ?? newInstance();
}

export function parserState(): ParserState {
  const recent = state.lastResetAt !== null && Date.now() - state.lastResetAt.getTime() < RECENT_RESET_MS;
  const reason =
    instance === null && loadError !== null
      ? `the SQL parser could not be loaded (${loadError}): statements are not judged`
      : recent
        ? `the SQL parser failed on a statement (${state.lastFailure}) and was restarted ${Math.round((Date.now() - state.lastResetAt!.getTime()) / 1000)} s ago`
        : null;
  return {
    status: reason === null ? 'ok' : 'degraded',
    reason,
    resets: state.resets,
    lastResetAt: state.lastResetAt,
    refused: state.refused,
  };
}

/**
 * Parses one text. A syntax error is a `ParseFailure` (PostgreSQL would say the same); a text
 * too deep to parse safely, or one the parser failed on, is `NotJudged`.
 */
export function parseStatement(sql: string, maxDepth = MAX_PARSE_DEPTH): Parsed | ParseFailure | NotJudged {
  if (estimatedDepth(sql, maxDepth) > maxDepth) {
    state.refused += 1;
    return {
      notJudged: `the statement nests more than ${maxDepth} levels deep (parentheses, CASE, chained operators); it is not parsed`,
    };
  }
  return guarded(sql, (m, ptr) => {
    const result = m._wasm_parse_query_raw(ptr);
    if (!result) throw new Error('the parser could not allocate memory');
    try {
      const tree = m.getValue(result, 'i32');
      const error = m.getValue(result + 8, 'i32');
      if (error) {
        const message = m.UTF8ToString(m.getValue(error, 'i32'));
        const cursor = m.getValue(error + 16, 'i32');
        return { message, position: cursor > 0 ? cursor : null };
      }
      const parsed = JSON.parse(m.UTF8ToString(tree)) as { stmts?: { stmt: Record<string, unknown> }[] };
      return { stmts: (parsed.stmts ?? []).map((s) => s.stmt) };
    } finally {
      m._wasm_free_parse_result(result);
    }
  });
}

/** The shape's identity: equal for statements that differ only in constants, comments and spacing. */
export function fingerprintOf(sql: string): string {
  return textResult(sql, (m, ptr) => m._wasm_fingerprint(ptr));
}

/** The statement with its constants replaced by $n placeholders. */
export function normalizedOf(sql: string): string {
  return textResult(sql, (m, ptr) => m._wasm_normalize_query(ptr));
}

export function isParseFailure(value: Parsed | ParseFailure | NotJudged): value is ParseFailure {
  return 'message' in value;
}

export function isNotJudged(value: Parsed | ParseFailure | NotJudged): value is NotJudged {
  return 'notJudged' in value;
}

/** Fingerprint and normalize only run on texts that parsed, so any failure here is the parser's. */
function textResult(sql: string, call: (m: WasmParser, ptr: number) => number): string {
  const out = guarded(sql, (m, ptr) => {
    const result = call(m, ptr);
    try {
      const text = m.UTF8ToString(result);
      if (/^(syntax error|deparse error|ERROR)/.test(text)) return { notJudged: text };
      return { text };
    } finally {
      m._wasm_free_string(result);
    }
  });
  if ('notJudged' in out) throw new ParserFailure(out.notJudged);
  return out.text;
}

/** Thrown when the parser fails on a text that had parsed; the analyzer treats it as not judged. */
export class ParserFailure extends Error {
  override name = 'ParserFailure';
}

function guarded<T>(sql: string, work: (m: WasmParser, ptr: number) => T): T | NotJudged {
  const m = instance;
  if (!m) return { notJudged: `the SQL parser is not available (${loadError ?? 'loading'})` };
  let ptr = 0;
  try {
    const length = m.lengthBytesUTF8(sql) + 1;
    ptr = m._malloc(length);
    if (!ptr) throw new Error('the parser could not allocate memory');
    m.stringToUTF8(sql, ptr, length);
    return work(m, ptr);
  } catch (error) {
    // Any exception out of the module (RuntimeError, RangeError, an Emscripten exit or abort)
    // means its stack or heap can no longer be trusted: replace it before anyone parses again.
    ptr = 0;
    state.resets += 1;
    state.lastResetAt = new Date();
    state.lastFailure = (error as Error).message ?? String(error);
    void newInstance();
    return { notJudged: `the SQL parser failed on the statement (${state.lastFailure}); it was restarted` };
  } finally {
    if (ptr) m._free(ptr);
  }
}
