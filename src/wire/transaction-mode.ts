import type { Analysis } from '../core/analyzer/index.js';
import { ErrorCode, PoolpilotError } from '../core/errors.js';
import type { Lease } from '../core/pool/index.js';
import { SqlState } from './sqlstate.js';

/**
 * What transaction pooling does with session features, for one client. Settings a client makes
 * outside a transaction (`SET`, `RESET`, and the GUCs of its startup packet) are kept and set
 * again, ahead of its messages, on every connection its later transactions land on; the
 * connection is reset when it comes back. Features whose state would have to outlive the
 * transaction on one server connection (LISTEN, SQL PREPARE, session advisory locks, WITH HOLD
 * cursors, temporary tables, LOAD) are refused with 0A000 when sent outside a transaction; inside
 * one they work and end with it.
 */
export class TransactionMode {
  /** name → the SET statement that gives it the client's value, in the order they were made. */
  readonly #settings = new Map<string, string>();
  /** From the startup packet: compared with what the server reports before being set. */
  readonly #startup = new Map<string, string>();
  /** A SET/RESET sent in the unit of work under way, kept once the unit ends well. */
  #candidate: { name: string | null; sql: string } | null = null;

  constructor(startupParameters: Readonly<Record<string, string>>) {
    for (const [name, value] of Object.entries(startupParameters)) {
      const key = name.toLowerCase();
      if (NOT_SETTINGS.has(key)) continue;
      if (key === 'options') {
        for (const [n, v] of parseOptions(value)) this.#startup.set(n.toLowerCase(), v);
        continue;
      }
      this.#startup.set(key, value);
    }
  }

  /**
   * Why a unit of work that starts with this statement (outside a transaction) cannot run in
   * transaction pooling, or null. SET and RESET are allowed and remembered.
   */
  refusal(analysis: Analysis, sql: string): PoolpilotError | null {
    if (!analysis.sessionState || analysis.transactionControl) return null;
    const kinds = analysis.features.statements;
    if (kinds.every((k) => k === 'SET') && analysis.statementCount === 1) {
      if (settingName(sql) !== undefined) return null;
    }
    if (kinds.every((k) => HARMLESS.has(k))) return null;
    const feature =
      kinds.find((k) => !HARMLESS.has(k) && k !== 'SET' && k !== 'SELECT') ??
      (analysis.features.functions.find((f) => SESSION_FUNCTIONS.test(f))
        ? `${analysis.features.functions.find((f) => SESSION_FUNCTIONS.test(f))}()`
        : 'this statement');
    return new PoolpilotError(
      ErrorCode.BadSql,
      `${feature} outside a transaction needs a session of its own, and poolpilot pools connections by transaction`,
      {
        details: {
          sqlstate: SqlState.FeatureNotSupported,
          hint: 'run it inside BEGIN ... COMMIT (it ends with the transaction), use its transaction-scoped form (SET LOCAL, pg_advisory_xact_lock), or connect to PostgreSQL directly for session features',
        },
      },
    );
  }

  /** A statement that starts a unit of work went to the server. */
  sent(analysis: Analysis, sql: string): void {
    this.#candidate = null;
    if (analysis.transactionControl || analysis.statementCount !== 1) return;
    const kind = analysis.features.statements[0];
    if (kind === 'SET') {
      const name = settingName(sql);
      if (name !== undefined) this.#candidate = { name, sql };
    } else if (kind === 'DISCARD') {
      this.#candidate = { name: null, sql };
    }
  }

  /** The unit of work ended; a setting it made outside a transaction is kept if it succeeded. */
  finished(ok: boolean): void {
    const candidate = this.#candidate;
    this.#candidate = null;
    if (!ok || !candidate) return;
    if (candidate.name === null || candidate.name === 'all') {
      // RESET ALL / DISCARD ALL: back to the server's defaults.
      this.#settings.clear();
      this.#startup.clear();
      return;
    }
    this.#startup.delete(candidate.name);
    this.#settings.delete(candidate.name);
    if (!/^\s*RESET\b/i.test(candidate.sql)) this.#settings.set(candidate.name, candidate.sql);
  }

  /** The statements that bring `lease`'s connection to this client's settings, or null when it has them. */
  settingsFor(lease: Lease): Buffer | null {
    const statements: string[] = [];
    for (const [name, value] of this.#startup) {
      const current = lease.parameter(PARAMETER_NAMES[name] ?? name);
      if (current !== undefined && sameValue(name, current, value)) continue;
      // set_config takes the value as the startup packet gives it: `SET search_path TO 'a,b'`
      // would name one schema "a,b", where `-c search_path=a,b` means two.
      statements.push(`SELECT pg_catalog.set_config(${quoteLiteral(name)}, ${quoteLiteral(value)}, false)`);
    }
    for (const sql of this.#settings.values()) statements.push(sql.trim().replace(/;+\s*$/, ''));
    if (statements.length === 0) return null;
    return simpleQuery(statements.join('; '));
  }
}

/** Startup-packet entries that are not settings of the session. */
const NOT_SETTINGS = new Set(['user', 'database', 'replication', 'application_name']);
/** Statements that leave nothing behind that the reset at check-in would not also clear. */
const HARMLESS = new Set(['DISCARD', 'UNLISTEN', 'DEALLOCATE', 'CLOSE']);
const SESSION_FUNCTIONS =
  /^(pg_catalog\.)?(set_config|pg_advisory_lock|pg_advisory_lock_shared|pg_try_advisory_lock|pg_try_advisory_lock_shared)$/;
/** ParameterStatus spells some names in mixed case. */
const PARAMETER_NAMES: Record<string, string> = {
  datestyle: 'DateStyle',
  timezone: 'TimeZone',
  intervalstyle: 'IntervalStyle',
};

/** The setting a SET/RESET names (lower case), 'all' for RESET ALL, undefined when it is not plain. */
function settingName(sql: string): string | undefined {
  const s = sql.replace(/^\s+/, '');
  if (/^SET\s+(SESSION\s+)?TIME\s+ZONE\b/i.test(s)) return 'timezone';
  if (/^SET\s+(SESSION\s+)?NAMES\b/i.test(s)) return 'client_encoding';
  if (/^SET\s+(SESSION\s+)?SCHEMA\b/i.test(s)) return 'search_path';
  if (/^RESET\s+ALL\s*;?\s*$/i.test(s)) return 'all';
  const match =
    /^(?:SET\s+(?:SESSION\s+)?|RESET\s+)(?!LOCAL\b|SESSION\s+AUTHORIZATION\b|ROLE\b|TRANSACTION\b)("?)([A-Za-z_][\w.]*)\1/i.exec(
      s,
    );
  if (!match) return undefined;
  const name = match[2]!;
  return match[1] ? name : name.toLowerCase();
}

function sameValue(name: string, current: string, wanted: string): boolean {
  if (name === 'client_encoding') return normalizeEncoding(current) === normalizeEncoding(wanted);
  return current === wanted;
}

function normalizeEncoding(value: string): string {
  return value.toUpperCase().replace(/[-_]/g, '');
}

/** `-c name=value` and `--name=value` pairs of the startup `options` entry. */
function parseOptions(options: string): [string, string][] {
  const out: [string, string][] = [];
  const words = options.match(/(?:\\.|\S)+/g) ?? [];
  for (let i = 0; i < words.length; i++) {
    let word = words[i]!.replace(/\\(.)/g, '$1');
    if (word === '-c' && i + 1 < words.length) word = words[++i]!.replace(/\\(.)/g, '$1');
    else if (word.startsWith('-c')) word = word.slice(2);
    else if (word.startsWith('--')) word = word.slice(2);
    else continue;
    const eq = word.indexOf('=');
    if (eq > 0) out.push([word.slice(0, eq).replace(/-/g, '_'), word.slice(eq + 1)]);
  }
  return out;
}

function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function simpleQuery(sql: string): Buffer {
  const text = Buffer.from(`${sql}\0`, 'utf8');
  const frame = Buffer.allocUnsafe(5 + text.length);
  frame[0] = 0x51; // Q
  frame.writeInt32BE(4 + text.length, 1);
  text.copy(frame, 5);
  return frame;
}
