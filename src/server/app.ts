import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/index.js';
import type { Poolpilot } from '../core/index.js';
import type { Logger } from '../core/logger.js';
import { createAuthenticator } from './auth.js';
import { serveDashboard } from './dashboard/route.js';
import { createDrain, type Drain } from './drain.js';
import { serveGraphiQLAsset } from './graphiql.js';
import { serveHealth } from './health-route.js';
import { createMetrics } from './metrics.js';
import { createOriginPolicy } from './origin.js';
import { attachWebSocket } from './websocket.js';
import { createPoolpilotYoga, type Yoga } from './yoga.js';

export interface App {
  server: Server;
  yoga: Yoga;
  /** What is in flight, for graceful shutdown (`http-surface.ts`). */
  drain: Drain;
  /** Resolves with the bound address (port 0 picks a free one). */
  listen(port: number, host: string): Promise<AddressInfo>;
  url(): string;
  close(): Promise<void>;
}

/** HTTP routes, Yoga and graphql-ws on one `node:http` server. */
export function createApp(poolpilot: Poolpilot, config: Readonly<Config>, log: Logger): App {
  const authenticate = createAuthenticator(config.tokens);
  const metrics = createMetrics(poolpilot);
  const drain = createDrain();
  const originPolicy = createOriginPolicy({
    corsOrigins: config.corsOrigins,
    authEnabled: config.tokens.length > 0,
  });
  const yoga = createPoolpilotYoga({
    poolpilot,
    config,
    authenticate,
    log,
    originPolicy,
    plugins: [metrics.plugin, drain.plugin],
  });
  const server = createServer((req, res) => {
    route(req, res).catch((error) => {
      log.error({ err: error, url: req.url }, 'request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error');
    });
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    // /graphql and /api are refused by Yoga's plugin (with a JSON error body); the other routes here, so
    // a page behind a rebound DNS name cannot read /metrics or /health either.
    if (pathname !== yoga.graphqlEndpoint && !pathname.startsWith('/api/')) {
      const decision = originPolicy.decide(req.headers.origin, req.headers.host);
      if (!decision.allowed) {
        res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`${decision.reason}\n`);
        return;
      }
    }
    if ((req.method === 'GET' || req.method === 'HEAD') && pathname === '/health')
      return serveHealth(poolpilot, res);
    if ((req.method === 'GET' || req.method === 'HEAD') && pathname === '/metrics')
      return metrics.serve(res, req.method === 'HEAD');
    if ((req.method === 'GET' || req.method === 'HEAD') && (await serveGraphiQLAsset(pathname, res, req)))
      return;
    if ((req.method === 'GET' || req.method === 'HEAD') && (await serveDashboard(pathname, req, res))) return;
    // The guide's GET /info is the REST route /api/info.
    if (req.method === 'GET' && pathname === '/info') req.url = `/api${req.url}`;
    if (pathname === '/') {
      res.writeHead(302, { location: '/graphql' });
      res.end();
      return;
    }
    await yoga(req, res);
  }

  drain.attach(server);
  const ws = attachWebSocket(server, yoga, {
    authenticate,
    originPolicy,
    maxSubscriptions: config.wsMaxSubscriptions,
  });

  return {
    server,
    yoga,
    drain,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      }),
    url: () => {
      const address = server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return `http://${host}:${address.port}`;
    },
    close: async () => {
      metrics.close();
      await ws.dispose();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
