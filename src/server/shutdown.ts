import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCode, type Poolpilot } from '../core/index.js';
import type { Logger } from '../core/logger.js';
import type { EmbeddedDatabase } from '../embedded/index.js';
import type { App } from './app.js';

/**
 * Graceful shutdown. The drain knows what is in flight: HTTP requests (whose responses must be
 * written out before their sockets close) and GraphQL operations over WebSocket. Subscriptions
 * are streams rather than work in flight; they end when their sockets close with 1001.
 */
export interface Drain {
  /** Counts WebSocket operations and refuses new operations (both transports) once draining. */
  plugin: Plugin;
  /** Counts HTTP requests on `server` (not event streams, which never finish by themselves). */
  attach(server: Server): void;
  readonly inFlight: number;
  readonly draining: boolean;
  begin(): void;
  /** Resolves true once nothing is in flight, false when `timeoutMs` passes first. */
  idle(timeoutMs: number): Promise<boolean>;
}

export function createDrain(): Drain {
  let requests = 0;
  let operations = 0;
  let draining = false;
  const waiters = new Set<() => void>();
  const settle = () => {
    if (requests + operations === 0) for (const wake of waiters) wake();
  };
  const refusal = () => ({
    errors: [
      new GraphQLError('poolpilot is shutting down; retry on another instance', {
        extensions: { code: ErrorCode.DbUnavailable },
      }),
    ],
  });
  return {
    plugin: {
      onExecute({ args, setResultAndStopExecution }) {
        if (draining) {
          setResultAndStopExecution(refusal());
          return;
        }
        // Over HTTP the request itself is counted (its response must be written out too).
        if ((args.contextValue as { request?: unknown }).request) return;
        operations += 1;
        return {
          onExecuteDone() {
            operations -= 1;
            settle();
          },
        };
      },
      onSubscribe({ setResultAndStopExecution }) {
        if (draining) setResultAndStopExecution(refusal());
      },
    },
    attach(server) {
      server.on('request', (req: IncomingMessage, res: ServerResponse) => {
        if (/text\/event-stream/.test(req.headers.accept ?? '')) return;
        requests += 1;
        res.once('close', () => {
          requests -= 1;
          settle();
        });
      });
    },
    get inFlight() {
      return requests + operations;
    },
    get draining() {
      return draining;
    },
    begin() {
      draining = true;
    },
    idle(timeoutMs) {
      if (requests + operations === 0) return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = (value: boolean) => {
          clearTimeout(timer);
          waiters.delete(wake);
          resolve(value);
        };
        const wake = () => done(true);
        const timer = setTimeout(() => done(false), timeoutMs);
        waiters.add(wake);
      });
    },
  };
}

export interface ShutdownOptions {
  app: App;
  poolpilot: Poolpilot;
  embedded: EmbeddedDatabase | null;
  log: Logger;
  graceMs: number;
  signal: string;
}

/**
 * Stop accepting connections, let in-flight work finish (bounded by `graceMs`), close WebSocket
 * sockets with 1001 (which completes their subscriptions) and every remaining HTTP connection,
 * close the pools, then stop the embedded PostgreSQL. Returns true when nothing was cut off.
 */
export async function shutdown({
  app,
  poolpilot,
  embedded,
  log,
  graceMs,
  signal,
}: ShutdownOptions): Promise<boolean> {
  const started = performance.now();
  const { drain } = app;
  log.info(
    { signal, inFlight: drain.inFlight, graceMs },
    'shutting down: no new connections, waiting for in-flight work',
  );
  drain.begin();
  app.server.close();
  app.server.closeIdleConnections();
  const drained = await drain.idle(graceMs);
  if (!drained)
    log.warn({ inFlight: drain.inFlight, graceMs }, 'grace period over: cutting off work still running');
  try {
    await app.close();
    // Anything still leased now is background work (health checks, samplers): a short grace.
    await poolpilot.close(drained ? Math.min(5_000, graceMs) : 0);
  } finally {
    if (embedded) {
      await embedded.stop();
      log.info('embedded PostgreSQL stopped');
    }
  }
  log.info({ drained, shutdownMs: Math.round(performance.now() - started) }, 'stopped');
  return drained;
}
