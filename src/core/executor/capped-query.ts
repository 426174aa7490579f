import pg from 'pg';

export interface CappedResult {
  rows: Record<string, unknown>[];
  fields: { name: string; dataTypeID: number }[];
  command: string | null;
  /** Rows affected or returned as PostgreSQL counted them; null when the result was cut short. */
  rowCount: number | null;
  truncated: boolean;
}

/**
 * A query that asks the server for at most `maxRows + 1` rows (the extended protocol's Execute
 * row limit) and stops there: the server never produces the rest, and the extra row tells us the
 * result was truncated. The extended protocol also refuses more than one statement per call.
 */
class CappedQuery extends pg.Query {
  truncated = false;
  // Sync goes out right behind the row-limited Execute (one round trip): a suspended portal is
  // then closed by it, a finished one committed. pg, left alone, would wait for PortalSuspended
  // or CommandComplete to send Sync (a second round trip) and then fetch the next page.
  #synced = false;

  override _getRows(connection: Connection, rows: number | undefined): void {
    connection.execute({ portal: this.portal, rows });
    connection.sync();
    this.#synced = true;
    this.rows = undefined; // pg's handlers must not send another Sync
  }

  override handlePortalSuspended(): void {
    this.truncated = true;
  }

  // A server error before Sync would leave the server waiting for one; after ours it is not needed,
  // and a client-side error while binding was already followed by Sync inside pg.
  override handleError(error: Error, connection: Connection): void {
    if (!this.#synced && (error as { severity?: string }).severity) {
      this.#synced = true;
      connection.sync();
    }
    super.handleError(error, connection);
  }
}

interface Connection {
  sync(): void;
  execute(options: { portal: string | undefined; rows: number | undefined }): void;
}

// pg's Query has these handlers at run time; its type declarations leave them out.
declare module 'pg' {
  interface Query {
    rows: number | undefined;
    portal: string | undefined;
    _getRows(connection: Connection, rows: number | undefined): void;
    handlePortalSuspended(connection: Connection): void;
    handleError(error: Error, connection: Connection): void;
  }
}

export function cappedQuery(
  client: pg.Client,
  text: string,
  values: unknown[],
  maxRows: number,
): Promise<CappedResult> {
  return new Promise((resolve, reject) => {
    const query = new CappedQuery({ text, values, rows: maxRows + 1 } as pg.QueryConfig, (error, result) => {
      if (error) return reject(error);
      const r = result as unknown as pg.QueryResult;
      const truncated = query.truncated || r.rows.length > maxRows;
      resolve({
        rows: truncated ? r.rows.slice(0, maxRows) : r.rows,
        fields: (r.fields ?? []).map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })),
        command: r.command ?? null,
        rowCount: truncated ? null : (r.rowCount ?? r.rows.length),
        truncated,
      });
    });
    client.query(query as unknown as pg.Submittable);
  });
}
