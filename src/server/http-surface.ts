import type { Config } from '../config/index.js';
import type { Poolpilot } from '../core/index.js';
import type { Logger } from '../core/logger.js';
import type { Surface } from '../surface.js';
import { type App, createApp } from './app.js';

export interface HttpSurface extends Surface {
  app: App;
}

/** GraphQL over HTTP and WebSocket, the dashboard, /health and /metrics on PORT/HOST. */
export function httpSurface(poolpilot: Poolpilot, config: Readonly<Config>, log: Logger): HttpSurface {
  const app = createApp(poolpilot, config, log);
  return {
    name: 'http',
    app,
    async listen() {
      const address = await app.listen(config.port, config.host);
      return `http://${config.host}:${address.port}/graphql`;
    },
    async drain(graceMs) {
      const { drain } = app;
      log.info({ surface: 'http', inFlight: drain.inFlight }, 'http: no new connections');
      drain.begin();
      app.server.close();
      app.server.closeIdleConnections();
      const drained = await drain.idle(graceMs);
      if (!drained)
        log.warn({ inFlight: drain.inFlight, graceMs }, 'grace period over: cutting off work still running');
      return drained;
    },
    // WebSocket sockets close with 1001 (completing their subscriptions), then every HTTP connection.
    close: () => app.close(),
  };
}
