/**
 * poolpilot's own figures per query shape, for when pg_stat_statements is missing: whoever runs
 * a statement through the pool records its fingerprint, normalized text, duration and rows.
 * Bounded: when full, the shape seen least recently is forgotten.
 */

export interface ObservedShape {
  fingerprint: string;
  query: string;
  calls: number;
  totalMs: number;
  minMs: number;
  maxMs: number;
  meanMs: number;
  rows: number;
  firstSeen: Date;
  lastSeen: Date;
}

interface Entry {
  query: string;
  calls: number;
  totalMs: number;
  minMs: number;
  maxMs: number;
  rows: number;
  firstSeen: number;
  lastSeen: number;
}

export class QueryObservations {
  readonly capacity: number;
  // A Map iterates in insertion order; re-inserting on every record keeps the least recent first.
  readonly #shapes = new Map<string, Entry>();
  #since = new Date();

  constructor(capacity = 1_000) {
    this.capacity = capacity;
  }

  record(fingerprint: string, normalizedSql: string, durationMs: number, rows: number): void {
    const now = Date.now();
    const entry = this.#shapes.get(fingerprint);
    if (entry) {
      this.#shapes.delete(fingerprint);
      entry.calls += 1;
      entry.totalMs += durationMs;
      entry.minMs = Math.min(entry.minMs, durationMs);
      entry.maxMs = Math.max(entry.maxMs, durationMs);
      entry.rows += rows;
      entry.lastSeen = now;
      this.#shapes.set(fingerprint, entry);
      return;
    }
    if (this.#shapes.size >= this.capacity) {
      const oldest = this.#shapes.keys().next().value;
      if (oldest !== undefined) this.#shapes.delete(oldest);
    }
    this.#shapes.set(fingerprint, {
      query: normalizedSql,
      calls: 1,
      totalMs: durationMs,
      minMs: durationMs,
      maxMs: durationMs,
      rows,
      firstSeen: now,
      lastSeen: now,
    });
  }

  get size(): number {
    return this.#shapes.size;
  }

  /** Since when figures have been collected (start-up or the last reset). */
  get since(): Date {
    return this.#since;
  }

  snapshot(): ObservedShape[] {
    return [...this.#shapes].map(([fingerprint, e]) => ({
      fingerprint,
      query: e.query,
      calls: e.calls,
      totalMs: e.totalMs,
      minMs: e.minMs,
      maxMs: e.maxMs,
      meanMs: e.totalMs / e.calls,
      rows: e.rows,
      firstSeen: new Date(e.firstSeen),
      lastSeen: new Date(e.lastSeen),
    }));
  }

  clear(): void {
    this.#shapes.clear();
    this.#since = new Date();
  }
}
