import type { Config, Role } from '../config/index.js';
import type { Poolpilot } from '../core/index.js';
import type { Audience } from '../core/telemetry/index.js';

/** Who is asking: `role` is null only when auth is on and no valid token was given. */
export interface Viewer {
  role: Role | null;
  authEnabled: boolean;
}

export interface Context {
  poolpilot: Poolpilot;
  /** The service's configuration (shown, secrets masked, by `info`). */
  config: Readonly<Config>;
  viewer: Viewer;
  /** Aborted when the client goes away: running statements are cancelled on the server. */
  signal: AbortSignal | undefined;
  /**
   * The caller's session name for read-your-writes, unchecked: the `x-poolpilot-session` HTTP
   * header, or `connectionParams.session` of a WebSocket; null when none was given.
   */
  session: string | null;
  /** Set for a multiplexed subscription: the group of subscribers its one execution serves. */
  audience?: Audience;
}
