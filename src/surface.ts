/**
 * A way in to the core that `src/main.ts` starts and stops: the HTTP + WebSocket server today,
 * the PostgreSQL wire listener next. Shutdown drains every surface at once, then closes them,
 * then the core.
 */
export interface Surface {
  /** Short name for logs ("http"). */
  readonly name: string;
  /** Starts accepting connections; resolves with where (a URL) once bound. */
  listen(): Promise<string>;
  /**
   * Stops accepting new connections and waits for work in flight, at most `graceMs`. Resolves
   * true when nothing was left running, false when the grace ran out first.
   */
  drain(graceMs: number): Promise<boolean>;
  /** Closes what is left (idle sockets, streams); work still running is cut off. */
  close(): Promise<void>;
}
