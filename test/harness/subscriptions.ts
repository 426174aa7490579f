import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';

/** A graphql-ws client for tests (no retries: a refused connection fails the test at once). */
export function wsClient(url: string, token?: string): Client {
  return createClient({
    url,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: token ? { authorization: `Bearer ${token}` } : undefined,
  });
}

export interface Collected<T> {
  results: { data?: T; errors?: { message: string; extensions?: Record<string, unknown> }[] }[];
  /** Resolves once `n` results arrived (or the subscription ended with fewer). */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  stop(): void;
}

/** Subscribes and collects every result until stopped. */
export function collect<T = Record<string, any>>(
  client: Client,
  query: string,
  variables?: Record<string, unknown>,
): Collected<T> {
  const results: Collected<T>['results'] = [];
  let ended: Error | null = null;
  let done = false;
  const stop = client.subscribe<T>(
    { query, variables },
    {
      next: (value) => results.push(value as Collected<T>['results'][number]),
      error: (error) => {
        ended = error instanceof Error ? error : new Error(JSON.stringify(error));
        done = true;
      },
      complete: () => {
        done = true;
      },
    },
  );
  return {
    results,
    stop,
    waitFor: async (n, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      while (results.length < n) {
        if (ended) throw ended;
        if (done) return;
        if (Date.now() > deadline)
          throw new Error(`only ${results.length} of ${n} results within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}
