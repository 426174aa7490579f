import { ErrorCode, isConnectionError, isPoolpilotError, PoolpilotError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Target } from '../pool/index.js';
import type { Analysis } from './analysis.js';
import { extractFacts, type StatementFacts } from './features.js';
import { literalKey } from './literal-key.js';
import { LruCache } from './lru.js';
import {
  fingerprintOf,
  isNotJudged,
  isParseFailure,
  loadParser,
  normalizedOf,
  type ParserState,
  parserState,
  parseStatement,
} from './parser.js';
import { askPlanner, type PlannerAnswer } from './planner.js';
import { BUILTIN_READ_ONLY_FUNCTIONS } from './read-only-functions.js';
import { recommend } from './recommendations.js';
import { PLANNABLE_KINDS, parsePlanningHazard } from './safe-plan.js';
import { routeOf, scoreStatement, severityOf } from './score.js';

export interface AnalyzerOptions {
  cacheSize: number;
  cacheTtlMs: number;
  planTimeoutMs: number;
  largeTableRows: number;
  readOnlyFunctions: readonly string[];
  thresholds: { medium: number; complex: number };
  maxSqlBytes: number;
  /** Shown in the advice for complex reads. */
  queueConcurrency: number;
}

/** Answers that rest on less than a plan are re-checked sooner. */
const PARTIAL_TTL_MS = 5_000;
/** Longer texts are cached by shape only, so the text cache stays small whatever callers send. */
const MAX_CACHED_TEXT = 16_384;
const OVERRIDE = /\/\*\s*poolpilot:primary\s*\*\//i;

/** What the planner said about a shape (or why it was not asked); `final` answers are kept longer. */
export interface PlannerVerdict {
  answer: PlannerAnswer | null;
  note: string | null;
  final: boolean;
}

export interface AnalyzeOptions {
  /**
   * 'background': a shape never planned before is answered from its parse at once and planned
   * behind the caller's back (the wire front's hot path); 'wait' (the default) asks the planner first.
   */
  plan?: 'wait' | 'background';
}

/**
 * Planner verdicts shared with other instances (see core/fleet/shared-analysis.ts): looked up
 * before planning a shape this instance has not seen, and told of every final verdict.
 */
export interface SharedVerdicts {
  get(fingerprint: string): Promise<PlannerVerdict | undefined>;
  set(fingerprint: string, verdict: PlannerVerdict, ttlMs: number): void;
}

export interface AnalyzerStats {
  hits: number;
  /** Answered by the literal-blanked text, without a parse. */
  keyHits: number;
  shapeHits: number;
  /** Shapes this instance had not seen, answered by another instance's plan (REDIS_URL). */
  sharedHits: number;
  misses: number;
  /** Times the planner was asked (an EXPLAIN and/or table sizes on the primary). */
  planned: number;
  cached: number;
}

/**
 * Parse (libpg_query) + plan (EXPLAIN on the primary) → complexity, severity, route class and
 * advice. Two cache levels: the exact text (a repeated statement costs one Map lookup) and the
 * fingerprint (a known shape with other constants costs a parse but no EXPLAIN). Both are LRU
 * with a time to live, so plans are re-checked as data grows.
 */
export class Analyzer {
  readonly #options: AnalyzerOptions;
  /** Where EXPLAIN runs: the target acting as primary, asked each time (a failover moves it). */
  readonly #primary: () => Target;
  readonly #log: Logger;
  readonly #readOnly: ReadonlySet<string>;
  readonly #byText: LruCache<Analysis>;
  readonly #byShape: LruCache<PlannerVerdict>;
  /** Final answers by the statement's text with literals blanked (see literal-key.ts). */
  readonly #byKey: LruCache<Analysis>;
  readonly #pending = new Map<string, Promise<Analysis>>();
  readonly #planning = new Set<string>();
  #stats = { hits: 0, keyHits: 0, shapeHits: 0, sharedHits: 0, misses: 0, planned: 0 };
  #shared: SharedVerdicts | null = null;

  constructor(options: AnalyzerOptions, primary: () => Target, log: Logger) {
    this.#options = options;
    this.#primary = primary;
    this.#log = log;
    this.#readOnly = new Set([...BUILTIN_READ_ONLY_FUNCTIONS, ...options.readOnlyFunctions]);
    this.#byText = new LruCache(options.cacheSize, options.cacheTtlMs);
    this.#byShape = new LruCache(options.cacheSize, options.cacheTtlMs);
    this.#byKey = new LruCache(options.cacheSize, options.cacheTtlMs);
  }

  start(): Promise<void> {
    return loadParser();
  }

  /** Shares planner verdicts with other instances from now on. */
  share(shared: SharedVerdicts): void {
    this.#shared = shared;
  }

  /** The cached analysis of exactly this text, if any: no parse, no I/O. */
  peek(sql: string): Analysis | undefined {
    const hit = this.#byText.get(sql);
    if (!hit) return undefined;
    this.#stats.hits += 1;
    return hit;
  }

  async analyze(sql: string, options: AnalyzeOptions = {}): Promise<Analysis> {
    const hit = this.peek(sql);
    if (hit) return hit;
    const key = literalKey(sql);
    if (key !== null) {
      const byKey = this.#byKey.get(key);
      if (byKey) {
        this.#stats.keyHits += 1;
        return byKey;
      }
    }
    if (Buffer.byteLength(sql) > this.#options.maxSqlBytes) {
      throw new PoolpilotError(
        ErrorCode.BadUserInput,
        `the SQL is ${Buffer.byteLength(sql)} bytes; at most ${this.#options.maxSqlBytes} are accepted (MAX_SQL_BYTES)`,
      );
    }
    if (sql.trim() === '') throw new PoolpilotError(ErrorCode.BadUserInput, 'the SQL is empty');
    // The parser stops at a NUL and would judge only the text before it; the server refuses it.
    const nul = sql.indexOf('\0');
    if (nul !== -1) {
      throw new PoolpilotError(
        ErrorCode.BadUserInput,
        `the SQL contains a NUL byte (character ${nul + 1}); PostgreSQL does not accept NUL in statements`,
        { details: { position: nul + 1 } },
      );
    }
    const pending = this.#pending.get(sql);
    if (pending) return pending;
    const work = this.#analyzeFresh(sql, key, options.plan === 'background').finally(() =>
      this.#pending.delete(sql),
    );
    this.#pending.set(sql, work);
    return work;
  }

  stats(): AnalyzerStats {
    return { ...this.#stats, cached: this.#byText.size };
  }

  /** The SQL parser's health: degraded when it cannot be loaded or had to be restarted lately. */
  state(): ParserState {
    return parserState();
  }

  clear(): void {
    this.#byText.clear();
    this.#byShape.clear();
    this.#byKey.clear();
  }

  async #analyzeFresh(sql: string, key: string | null, background: boolean): Promise<Analysis> {
    await loadParser();
    const forcedPrimary = OVERRIDE.test(sql);
    const resets = parserState().resets;
    const parsed = parseStatement(sql);
    if (isNotJudged(parsed)) {
      this.#stats.misses += 1;
      // A parser failure is ours to look into; a text nested too deep is the caller's business.
      if (parserState().resets > resets) this.#log.warn({ reason: parsed.notJudged }, 'SQL parser restarted');
      else this.#log.info({ reason: parsed.notJudged }, 'statement not judged');
      return this.#remember(sql, this.#notJudged(parsed.notJudged, forcedPrimary), PARTIAL_TTL_MS);
    }
    if (isParseFailure(parsed)) {
      this.#stats.misses += 1;
      return this.#remember(sql, this.#parseFailure(parsed, forcedPrimary), PARTIAL_TTL_MS);
    }
    if (parsed.stmts.length === 0)
      throw new PoolpilotError(ErrorCode.BadUserInput, 'the SQL has no statement');
    // The parse tree is always this text's own (parameters, LIKE patterns and hints differ
    // between texts of one shape); what the shape cache saves is the planner round trip.
    const facts = extractFacts(parsed.stmts, this.#readOnly);
    const f = facts.features;
    let fingerprint: string;
    let normalized: string;
    try {
      fingerprint = fingerprintOf(sql);
      normalized = normalizedOf(sql);
    } catch (error) {
      this.#log.warn({ reason: (error as Error).message }, 'SQL parser failed after a parse');
      return this.#remember(sql, this.#notJudged((error as Error).message, forcedPrimary), PARTIAL_TTL_MS);
    }
    let planner = this.#byShape.get(fingerprint);
    if (!planner && this.#shared) {
      planner = await this.#shared.get(fingerprint);
      if (planner) {
        this.#stats.sharedHits += 1;
        this.#byShape.set(fingerprint, planner, this.#options.cacheTtlMs);
      }
    }
    const shapeHit = planner !== undefined;
    if (planner) this.#stats.shapeHits += 1;
    else if (background) {
      this.#stats.misses += 1;
      this.#planInBackground(sql, fingerprint, facts, parsed.stmts.length);
      planner = {
        answer: null,
        note: 'first sight: routed from the parse, planned in the background',
        final: false,
      };
    } else {
      this.#stats.misses += 1;
      planner = await this.#consultPlanner(sql, facts, parsed.stmts.length);
      if (planner.final) this.#shared?.set(fingerprint, planner, this.#options.cacheTtlMs);
    }
    const answer = planner.answer;
    const plan = answer?.plan ?? null;
    const planError = answer?.planError ?? null;
    const tableRows = answer?.tableRows ?? null;
    const { complexity, factors } = scoreStatement({
      features: f,
      plan,
      tableRows,
      largeTableRows: this.#options.largeTableRows,
    });
    const route = routeOf(complexity, this.#options.thresholds);
    const writes = facts.writeReasons.length > 0;
    const analysis: Analysis = {
      fingerprint,
      normalized,
      statementCount: parsed.stmts.length,
      complexity,
      severity: severityOf(complexity),
      route,
      recommendations: recommend({
        features: f,
        plan,
        planError,
        tableRows,
        largeTableRows: this.#options.largeTableRows,
        writes,
        route,
        queueConcurrency: this.#options.queueConcurrency,
      }),
      factors,
      features: f,
      tables: f.tables,
      judged: true,
      writes,
      writeReasons: facts.writeReasons,
      transactionControl: facts.transactionControl,
      sessionState: facts.sessionState,
      forcedPrimary,
      planned: plan !== null,
      plan,
      planError,
      tableRows,
      basis: plan ? 'planner' : answer ? 'table sizes' : 'parse only',
      note: planner.note,
      parseError: null,
      analyzedAt: new Date(),
      cached: shapeHit,
    };
    const ttl = planner.final ? this.#options.cacheTtlMs : PARTIAL_TTL_MS;
    if (background && !shapeHit) return analysis; // remembered once the plan is in
    this.#remember(sql, analysis, ttl);
    if (!shapeHit) this.#byShape.set(fingerprint, planner, ttl);
    if (key !== null && planner.final) this.#byKey.set(key, { ...analysis, cached: true }, ttl);
    return analysis;
  }

  /** Plans a new shape without anyone waiting; the next statement of that shape finds the plan. */
  #planInBackground(sql: string, fingerprint: string, facts: StatementFacts, count: number): void {
    if (this.#planning.has(fingerprint)) return;
    this.#planning.add(fingerprint);
    void this.#consultPlanner(sql, facts, count)
      .then((verdict) => {
        this.#byShape.set(fingerprint, verdict, verdict.final ? this.#options.cacheTtlMs : PARTIAL_TTL_MS);
        if (verdict.final) this.#shared?.set(fingerprint, verdict, this.#options.cacheTtlMs);
      })
      .catch((error) => this.#log.warn({ err: error }, 'background planning failed'))
      .finally(() => this.#planning.delete(fingerprint));
  }

  #remember(sql: string, analysis: Analysis, ttlMs: number): Analysis {
    if (sql.length <= MAX_CACHED_TEXT) this.#byText.set(sql, { ...analysis, cached: true }, ttlMs);
    return analysis;
  }

  async #consultPlanner(
    sql: string,
    facts: ReturnType<typeof extractFacts>,
    count: number,
  ): Promise<PlannerVerdict> {
    if (count !== 1) return { answer: null, note: 'several statements: not planned', final: true };
    const f = facts.features;
    const kind = f.statements[0] ?? '';
    const primary = this.#primary();
    if (!primary.isUp) {
      return {
        answer: null,
        note: `no database reachable (${primary.health.reason ?? 'primary not checked yet'}): answered from the parse alone`,
        final: false,
      };
    }
    const major = Number.parseInt(primary.serverVersion ?? '0', 10);
    const hazard = parsePlanningHazard(facts, count);
    const plannable = hazard === null && (f.params === 0 || major >= 16);
    if (!plannable && f.tables.length === 0) {
      return {
        answer: null,
        note: PLANNABLE_KINDS.has(kind)
          ? `not planned (${hazard ?? 'parameters need PostgreSQL 16'}): scored from the parse`
          : `${kind} is not planned`,
        final: true,
      };
    }
    try {
      this.#stats.planned += 1;
      const answer = await askPlanner(primary.pool, sql, {
        explain: plannable,
        generic: f.params > 0,
        timeoutMs: this.#options.planTimeoutMs,
        tables: f.tables,
        functions: f.functions,
        operators: facts.operators,
      });
      const why = hazard ?? answer.hazard;
      const note = answer.planError
        ? 'the planner rejected the statement: scored from the parse and table sizes'
        : why
          ? `not planned (${why}): scored from the parse and table sizes`
          : plannable
            ? null
            : PLANNABLE_KINDS.has(kind)
              ? 'parameters need PostgreSQL 16 to be planned: scored from the parse and table sizes'
              : `${kind} is not planned: scored from the parse and table sizes`;
      return { answer, note, final: answer.planError === null };
    } catch (error) {
      if (!isConnectionError(error) && !(isPoolpilotError(error) && error.code === ErrorCode.DbUnavailable)) {
        this.#log.warn({ err: error }, 'planning failed');
      }
      return {
        answer: null,
        note: `no database reachable (${(error as Error).message}): answered from the parse alone`,
        final: false,
      };
    }
  }

  #parseFailure(failure: { message: string; position: number | null }, forcedPrimary: boolean): Analysis {
    return {
      fingerprint: '',
      normalized: '',
      statementCount: 0,
      complexity: 0,
      severity: 'LOW',
      route: 'FAST',
      recommendations: [`fix the syntax error: ${failure.message}`],
      factors: [],
      features: extractFacts([], this.#readOnly).features,
      tables: [],
      judged: true,
      writes: null,
      writeReasons: ['the statement did not parse: sent to the primary, which reports the error'],
      transactionControl: false,
      sessionState: false,
      forcedPrimary,
      planned: false,
      plan: null,
      planError: null,
      tableRows: null,
      basis: 'parse only',
      note: 'the statement did not parse',
      parseError: failure,
      analyzedAt: new Date(),
      cached: false,
    };
  }

  /** Refused by every check that needs the parse; routed to the primary by anything else. */
  #notJudged(reason: string, forcedPrimary: boolean): Analysis {
    return {
      ...this.#parseFailure({ message: reason, position: null }, forcedPrimary),
      recommendations: [`the statement could not be judged: ${reason}`],
      judged: false,
      writeReasons: [`not judged (${reason}): treated as a write`],
      sessionState: true,
      parseError: null,
      note: `the statement could not be judged: ${reason}`,
    };
  }
}
