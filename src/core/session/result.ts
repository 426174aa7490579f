import pg from 'pg';
import type { RouteClass } from '../analyzer/index.js';
import type { FieldDescription, RowSink } from '../pool/index.js';
import type { Consistency } from '../router/index.js';

export interface ExecuteResult {
  /** One object per row keyed by column name (a later duplicate name wins, as in node-postgres). */
  rows: Record<string, unknown>[];
  /** Every column as RowDescription described it, duplicates included. */
  fields: FieldDescription[];
  /** Rows returned or affected; for a truncated result, the rows returned. */
  rowCount: number;
  command: string | null;
  durationMs: number;
  truncated: boolean;
  /** What cut the result short: the row cap or the byte cap. */
  truncatedBy: 'rows' | 'bytes' | null;
  /** Bytes of row data received from the server. */
  bytes: number;
  route: RouteClass;
  target: string;
  queued: boolean;
  queueWaitMs: number;
  reason: string;
  complexity: number;
  /**
   * The primary's WAL position after this statement's write (a causal token for afterLsn); null
   * for a read, or when no replica is configured (every read is on the primary then).
   */
  lsn: string | null;
  /** How afterLsn was honoured; null when none was given. */
  consistency: Consistency | null;
}

/**
 * Keeps at most `maxRows` rows and `maxBytes` bytes of a streamed result, typed the way
 * node-postgres types them, for callers that answer with the whole result (GraphQL).
 */
export class CollectingSink implements RowSink {
  readonly rows: Record<string, unknown>[] = [];
  fieldList: FieldDescription[] = [];
  /** More rows arrived than `maxRows`. */
  overRows = false;
  readonly #maxRows: number;
  #parsers: ((value: string) => unknown)[] = [];

  constructor(maxRows: number) {
    this.#maxRows = maxRows;
  }

  fields(fields: FieldDescription[]): void {
    this.fieldList = fields;
    this.#parsers = fields.map((f) => pg.types.getTypeParser(f.dataTypeID, 'text'));
  }

  row(values: (string | null)[]): void {
    if (this.rows.length >= this.#maxRows) {
      this.overRows = true;
      return;
    }
    const row: Record<string, unknown> = {};
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      row[this.fieldList[i]!.name] = v === null ? null : this.#parsers[i]!(v);
    }
    this.rows.push(row);
  }
}
