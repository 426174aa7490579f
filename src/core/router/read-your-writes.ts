import { parseLsn } from '../pool/index.js';

/** Any table: a write whose tables are unknown (a function call, DO...). */
const ANY = '*';
const MAX_ENTRIES = 10_000;

interface Written {
  lsn: bigint | null;
  at: number;
}

/**
 * Remembers recent writes made through poolpilot, per table, with the primary's WAL position
 * after each. A replica may serve a read of those tables once it has replayed past that
 * position; until then, or until the window passes, the read stays on the primary.
 */
export class ReadYourWrites {
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #written = new Map<string, Written>();

  constructor(windowMs: number, now: () => number = Date.now) {
    this.#windowMs = windowMs;
    this.#now = now;
  }

  /** Records a write of `tables` (empty: unknown tables) that ended at WAL position `lsn`. */
  record(tables: readonly string[], lsn: string | null): void {
    if (this.#windowMs <= 0) return;
    const entry = { lsn: parseLsn(lsn), at: this.#now() };
    const keys = tables.length > 0 ? tables.map(bareName) : [ANY];
    for (const key of keys) {
      this.#written.delete(key);
      this.#written.set(key, entry);
    }
    if (this.#written.size > MAX_ENTRIES) this.#prune();
  }

  /**
   * The write a replica at `replayLsn` has not replayed yet among `tables`, or null when it may
   * serve them.
   */
  pending(tables: readonly string[], replayLsn: string | null): { table: string; ageMs: number } | null {
    if (this.#written.size === 0) return null;
    const replayed = parseLsn(replayLsn);
    const now = this.#now();
    for (const key of [ANY, ...tables.map(bareName)]) {
      const entry = this.#written.get(key);
      if (!entry) continue;
      const ageMs = now - entry.at;
      if (ageMs >= this.#windowMs) {
        this.#written.delete(key);
        continue;
      }
      if (entry.lsn === null || replayed === null || replayed < entry.lsn) {
        return { table: key === ANY ? 'an unknown table' : key, ageMs };
      }
    }
    return null;
  }

  /**
   * The tables with a write still inside the window ('*' for unknown ones): what a read-only
   * transaction, whose statements are not known when it is placed, may read.
   */
  recentTables(): string[] {
    return [...this.#written.keys()];
  }

  get size(): number {
    return this.#written.size;
  }

  #prune(): void {
    const cutoff = this.#now() - this.#windowMs;
    for (const [key, entry] of this.#written) if (entry.at < cutoff) this.#written.delete(key);
    // Still too many live entries: the oldest go (their reads return to replicas early, never wrongly to a stale one for long).
    while (this.#written.size > MAX_ENTRIES)
      this.#written.delete(this.#written.keys().next().value as string);
  }
}

/** "public.Orders" and "orders" name the same table for this purpose: matching errs toward the primary. */
function bareName(table: string): string {
  const dot = table.lastIndexOf('.');
  return (dot === -1 ? table : table.slice(dot + 1)).toLowerCase();
}
