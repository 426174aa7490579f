import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCode } from '../core/index.js';

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
