import { parseLsn } from '../pool/index.js';
import { laterLsn } from './causal.js';

/** Any table: a write whose tables are unknown (a function call, DO...). */
const ANY = '*';
/** Tables remembered per session (global mode: in all); past it the oldest writes are forgotten first. */
const MAX_TABLES = 10_000;
/** The scope of callers that named no session: they share one. */
const ANONYMOUS = '';

/**
 * Whose writes a read must see. `session`: its own session's (a wire client, a named GraphQL
 * session; unnamed GraphQL calls share one); `global`: everyone's; `off`: nobody's (reads go by
 * replica lag alone).
 */
export type ReadYourWritesMode = 'session' | 'global' | 'off';

export interface ReadYourWritesOptions {
  mode: ReadYourWritesMode;
  /** A write stops pinning reads after this long, replayed or not; 0 turns it off. */
  windowMs: number;
  /** Sessions remembered at once (session mode); see `record`. */
  maxSessions: number;
  now?: () => number;
}

interface Written {
  lsn: bigint | null;
  at: number;
}

/** What a read is waiting for: a write of `table` that the replica has not replayed. */
export interface PendingWrite {
  table: string;
  ageMs: number;
}

/**
 * Remembers recent writes made through poolpilot, per session and table, with the primary's WAL
 * position after each. A replica may serve a session's read of those tables once it has
 * replayed past that position; until then, or until the window passes, the read stays on the
 * primary. Other sessions' reads are not held back (session mode).
 */
export class ReadYourWrites {
  readonly mode: ReadYourWritesMode;
  readonly windowMs: number;
  readonly maxSessions: number;
  readonly #now: () => number;
  /** Session → its writes, least recently written first. Global mode keeps everything under ANONYMOUS. */
  readonly #sessions = new Map<string, TableWrites>();
  /**
   * Writes of sessions pushed out of the LRU while still inside the window: they hold back every
   * session's reads of those tables, so forgetting a session errs toward the primary, never toward a stale replica.
   */
  readonly #evicted = new TableWrites();
  /** Told of every WAL position recorded, so replay can be watched closely until a replica has it. */
  onRecorded: ((lsn: bigint) => void) | null = null;

  constructor(options: ReadYourWritesOptions) {
    this.mode = options.windowMs <= 0 ? 'off' : options.mode;
    this.windowMs = options.windowMs;
    this.maxSessions = Math.max(1, options.maxSessions);
    this.#now = options.now ?? Date.now;
  }

  /**
   * Records a write by `session` (null: a caller that named none) of `tables` (empty: unknown
   * tables) that ended at WAL position `lsn` (null: not known yet, so not replayed anywhere).
   */
  record(session: string | null, tables: readonly string[], lsn: string | null): void {
    if (this.mode === 'off') return;
    const position = parseLsn(lsn);
    const entry = { lsn: position, at: this.#now() };
    const key = this.#key(session);
    let writes = this.#sessions.get(key);
    if (writes) this.#sessions.delete(key);
    else writes = new TableWrites();
    this.#sessions.set(key, writes); // most recently written last
    writes.record(tables.length > 0 ? tables.map(bareName) : [ANY], entry, this.#now() - this.windowMs);
    while (this.#sessions.size > this.maxSessions) this.#evictOldest();
    if (position !== null) this.onRecorded?.(position);
  }

  /**
   * The write of `session` (or, in global mode, of anyone) among `tables` that a replica at
   * `replayLsn` has not replayed yet, or null when it may serve them.
   */
  pending(session: string | null, tables: readonly string[], replayLsn: string | null): PendingWrite | null {
    if (this.mode === 'off') return null;
    const replayed = parseLsn(replayLsn);
    const now = this.#now();
    const keys = [ANY, ...tables.map(bareName)];
    const key = this.#key(session);
    const own = this.#sessions.get(key);
    const found =
      (own && this.#check(own, keys, replayed, now)) ?? this.#check(this.#evicted, keys, replayed, now);
    if (own && own.size === 0) this.#sessions.delete(key);
    return found;
  }

  /**
   * The tables `session` wrote still inside the window ('*' for unknown ones): what its read-only
   * transaction, whose statements are not known when it is placed, may read.
   */
  recentTables(session: string | null): string[] {
    if (this.mode === 'off') return [];
    const own = this.#sessions.get(this.#key(session));
    return [...new Set([...(own?.keys() ?? []), ...this.#evicted.keys()])];
  }

  /** The session has ended (a wire client left): nobody will read as it again. */
  forget(session: string): void {
    if (this.mode === 'session') this.#sessions.delete(session);
  }

  /** Sessions with a write remembered (global mode: 1 when any). */
  get sessions(): number {
    return this.#sessions.size;
  }

  #key(session: string | null): string {
    return this.mode === 'global' ? ANONYMOUS : (session ?? ANONYMOUS);
  }

  #check(writes: TableWrites, keys: string[], replayed: bigint | null, now: number): PendingWrite | null {
    for (const key of keys) {
      const entry = writes.get(key);
      if (!entry) continue;
      const ageMs = now - entry.at;
      if (ageMs >= this.windowMs) {
        writes.delete(key);
        continue;
      }
      if (entry.lsn === null || replayed === null || replayed < entry.lsn) {
        return { table: key === ANY ? 'an unknown table' : key, ageMs };
      }
    }
    return null;
  }

  #evictOldest(): void {
    const [key, writes] = this.#sessions.entries().next().value as [string, TableWrites];
    this.#sessions.delete(key);
    const cutoff = this.#now() - this.windowMs;
    for (const [table, entry] of writes.entries()) {
      if (entry.at > cutoff) this.#evicted.merge(table, entry, cutoff);
    }
  }
}

/** One scope's writes by table, oldest first. */
class TableWrites {
  readonly #written = new Map<string, Written>();

  get size(): number {
    return this.#written.size;
  }

  get(table: string): Written | undefined {
    return this.#written.get(table);
  }

  delete(table: string): void {
    this.#written.delete(table);
  }

  keys(): IterableIterator<string> {
    return this.#written.keys();
  }

  entries(): IterableIterator<[string, Written]> {
    return this.#written.entries();
  }

  record(tables: string[], entry: Written, cutoff: number): void {
    for (const table of tables) {
      this.#written.delete(table);
      this.#written.set(table, entry);
    }
    if (this.#written.size > MAX_TABLES) this.#prune(cutoff);
  }

  /** Keeps whichever of two writes of `table` asks more of a replica: the later position, the later time. */
  merge(table: string, entry: Written, cutoff: number): void {
    const existing = this.#written.get(table);
    if (!existing) {
      this.record([table], entry, cutoff);
      return;
    }
    // Unknown (null) stays unknown: not replayed anywhere.
    const lsn = existing.lsn === null || entry.lsn === null ? null : laterLsn(existing.lsn, entry.lsn);
    this.record([table], { lsn, at: Math.max(existing.at, entry.at) }, cutoff);
  }

  #prune(cutoff: number): void {
    for (const [key, entry] of this.#written) if (entry.at < cutoff) this.#written.delete(key);
    // Still too many live entries: the oldest go (their reads return to replicas early, never wrongly to a stale one for long).
    while (this.#written.size > MAX_TABLES) this.#written.delete(this.#written.keys().next().value as string);
  }
}

/** "public.Orders" and "orders" name the same table for this purpose: matching errs toward the primary. */
function bareName(table: string): string {
  const dot = table.lastIndexOf('.');
  return (dot === -1 ? table : table.slice(dot + 1)).toLowerCase();
}
