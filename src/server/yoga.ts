import { ServerResponse } from 'node:http';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Config } from '../config/index.js';
import { type Poolpilot, VERSION } from '../core/index.js';
import type { Logger } from '../core/logger.js';
import type { Audience } from '../core/telemetry/index.js';
import type { Context, Viewer } from '../graphql/context.js';
import { toGraphQLError } from '../graphql/errors.js';
import { schema } from '../graphql/schema.js';
import { renderLocalGraphiQL } from './graphiql.js';
import { useOperationLimits } from './limits.js';
import { logOperationError } from './logger.js';
import { corsFor, type OriginPolicy, useOriginPolicy } from './origin.js';
import { useRestApi } from './rest/api.js';

/** What the transport hands Yoga: HTTP gives the request; WebSocket the viewer resolved at connection_init. */
export interface ServerContext {
  viewer?: Viewer;
  signal?: AbortSignal;
  /** WebSocket: connectionParams.session. */
  session?: string | null;
  /** A multiplexed WebSocket subscription's group (subscription-groups.ts). */
  audience?: Audience;
  [key: string]: unknown;
}
export type Yoga = YogaServerInstance<ServerContext, Context>;

/** Names the caller's session for read-your-writes (see executeQuery's `session` argument). */
export const SESSION_HEADER = 'x-poolpilot-session';

export interface YogaOptions {
  poolpilot: Poolpilot;
  config: Readonly<Config>;
  authenticate: (authorization: string | null | undefined) => Viewer;
  log: Logger;
  /** Which origins may call (CORS_ORIGINS, same origin) and what a POST body may be. */
  originPolicy: OriginPolicy;
  /** Extra envelop plugins (metrics); they see HTTP and WebSocket operations alike. */
  plugins?: Plugin[];
}

/**
 * Aborts when the HTTP client goes away before its response is complete, so running statements
 * are cancelled on the server. Built from the Node response rather than the Fetch request's
 * signal, which allocates and aborts a signal (with a DOMException) on every request, and showed
 * up at several percent of server CPU under load.
 */
function clientGoneSignal(res: unknown): AbortSignal | undefined {
  if (!(res instanceof ServerResponse)) return undefined;
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}

export function createPoolpilotYoga({
  poolpilot,
  config,
  authenticate,
  log,
  originPolicy,
  plugins = [],
}: YogaOptions): Yoga {
  return createYoga<ServerContext, Context>({
    schema,
    plugins: [
      useOriginPolicy(originPolicy),
      useRestApi({
        schema,
        // The largest SQL text, JSON-escaped, with room for parameters.
        maxBodyBytes: 2 * config.execute.maxSqlBytes + 65_536,
        version: VERSION,
        allowedOrigins: originPolicy.corsOrigins,
        log,
      }),
      ...useOperationLimits(),
      ...plugins,
    ],
    // Yoga's default echoes any Origin with credentials allowed: only listed origins get CORS.
    cors: corsFor(originPolicy),
    graphqlEndpoint: '/graphql',
    landingPage: false,
    graphiql: { title: 'poolpilot', subscriptionsProtocol: 'WS', defaultQuery: DEFAULT_QUERY },
    renderGraphiQL: renderLocalGraphiQL,
    context: (initial) => ({
      poolpilot,
      config,
      viewer: initial.viewer ?? authenticate(initial.request?.headers.get('authorization')),
      signal: initial.signal ?? clientGoneSignal(initial.res),
      session: initial.session ?? initial.request?.headers.get(SESSION_HEADER) ?? null,
      audience: initial.audience,
    }),
    maskedErrors: { maskError: (error) => toGraphQLError(error, log) },
    logging: {
      debug: (...args) => log.debug({ args }, 'yoga'),
      info: (...args) => log.info({ args }, 'yoga'),
      warn: (...args) => log.warn({ args }, 'yoga'),
      error: (...args) => {
        if (args.length === 1 && args[0] instanceof Error) logOperationError(log, args[0]);
        else log.error({ args }, 'yoga');
      },
    },
  });
}

const DEFAULT_QUERY = `# poolpilot: pool statistics, health and service info.
# Subscriptions run over WebSocket on this same URL.
{
  info { name version postgresVersion embedded }
  health { status targets { name role status reason } }
  poolStats {
    total idle active waiting max utilization
    targets { name role total idle active waiting utilization queryLatency { p50Ms p99Ms } }
  }
}
`;
